"""The study loop ticks at once when a trial reports a validation point (a short trial can end
between two one-second ticks, and its pruner must see it while it runs)."""
from __future__ import annotations

import pytest

from digitsx.search.manager import WAKE_STEP, Studies


def loop(wake_id: str):
    slept: list[float] = []
    ticks: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            studies.wake(wake_id)

    def tick() -> None:
        ticks.append(sum(slept))
        if len(ticks) == 2:
            studies.stop()

    studies = Studies(None, None, None, "sqlite://", sleep, interval=1.0)
    studies._reported["trial-job"] = set()  # a running trial the loop follows
    studies.tick = tick
    studies.run()
    return ticks


def test_a_trials_validation_point_wakes_the_loop():
    assert loop("trial-job") == [0, pytest.approx(3 * WAKE_STEP)] and 3 * WAKE_STEP < 0.5


def test_another_jobs_point_does_not():
    assert loop("some-other-job") == [0, pytest.approx(1.0)]  # the full interval
