"""Job states and the transitions allowed between them (data, not code paths)."""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """A job's state; the value is the name DIGITS's JSON used."""

    INITIALIZED = "Initialized"
    WAITING = "Waiting"
    RUNNING = "Running"
    DONE = "Done"
    ABORTED = "Aborted"
    ERROR = "Error"
    INTERRUPTED = "Interrupted"  # found Running or Waiting when the server started
    PRUNED = "Pruned"  # a study's trial its pruner stopped: finished, not failed

    @property
    def finished(self) -> bool:
        """True for states a job leaves only by being resumed or deleted."""
        return self in FINISHED

    @property
    def active(self) -> bool:
        """True while the scheduler owns the job (queued or running)."""
        return self in ACTIVE


ACTIVE = frozenset({Status.INITIALIZED, Status.WAITING, Status.RUNNING})  # the pages get this list
FINISHED = frozenset({Status.DONE, Status.ABORTED, Status.ERROR, Status.INTERRUPTED, Status.PRUNED})

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.INITIALIZED: frozenset({Status.WAITING, Status.RUNNING, Status.ABORTED, Status.ERROR,
                                   Status.INTERRUPTED}),
    # A cluster job waits again with a new reason from Slurm, or after Slurm requeued it.
    Status.WAITING: frozenset({Status.WAITING, Status.RUNNING, Status.ABORTED, Status.ERROR,
                               Status.INTERRUPTED}),
    Status.RUNNING: frozenset({Status.DONE, Status.ABORTED, Status.ERROR, Status.INTERRUPTED,
                               Status.WAITING, Status.PRUNED}),
    Status.DONE: frozenset(),
    # A resumed job goes back to the queue.
    Status.ABORTED: frozenset({Status.INITIALIZED}),
    Status.ERROR: frozenset({Status.INITIALIZED}),
    # A study's trial its pruner stopped while the server was down ends Pruned after all.
    Status.INTERRUPTED: frozenset({Status.INITIALIZED, Status.PRUNED}),
    Status.PRUNED: frozenset({Status.INITIALIZED}),  # trained on, to its end
}


class TransitionError(ValueError):
    """A state change that the table above does not allow."""


def check_transition(old: Status | str, new: Status | str) -> Status:
    """Return ``new`` as a Status, or raise TransitionError if ``old → new`` is not allowed."""
    old, new = Status(old), Status(new)
    if new not in ALLOWED[old]:
        raise TransitionError(f"a job cannot go from {old.value} to {new.value}")
    return new
