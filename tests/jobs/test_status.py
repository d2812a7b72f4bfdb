import pytest

from digitsx.jobs.status import ALLOWED, Status, TransitionError, check_transition


def test_every_state_has_a_row():
    assert set(ALLOWED) == set(Status)


@pytest.mark.parametrize("old,new", [("Initialized", "Waiting"), ("Waiting", "Running"),
                                     ("Running", "Done"), ("Running", "Interrupted"),
                                     ("Interrupted", "Initialized"), ("Error", "Initialized")])
def test_allowed(old, new):
    assert check_transition(old, new) is Status(new)


@pytest.mark.parametrize("old,new", [("Done", "Running"), ("Done", "Initialized"),
                                     ("Aborted", "Running"), ("Initialized", "Done")])
def test_refused(old, new):
    with pytest.raises(TransitionError, match=f"from {old} to {new}"):
        check_transition(old, new)


def test_finished_and_active():
    assert Status.INTERRUPTED.finished and not Status.INTERRUPTED.active
    assert Status.WAITING.active and not Status.WAITING.finished
