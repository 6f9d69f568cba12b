"""The job state machine: which state changes are legal, and one place to ask."""

from __future__ import annotations

WAIT_DEPENDENCIES = "wait_dependencies"
PENDING = "pending"
ENQUEUED = "enqueued"
STARTED = "started"
DONE = "done"
CANCELLED = "cancelled"
FAILED = "failed"

STATES = [
    (WAIT_DEPENDENCIES, "Wait Dependencies"),
    (PENDING, "Pending"),
    (ENQUEUED, "Enqueued"),
    (STARTED, "Started"),
    (DONE, "Done"),
    (CANCELLED, "Cancelled"),
    (FAILED, "Failed"),
]

# Jobs in these states occupy a slot of their channel.
RUNNING_STATES = (ENQUEUED, STARTED)
# Jobs in these states will never run again unless someone requeues them.
FINAL_STATES = (DONE, CANCELLED, FAILED)

_ALL = frozenset(state for state, _label in STATES)

# Who moves a job from one state to another:
#   runner: claims pending jobs (enqueued) and heals jobs whose worker died;
#   worker: starts, finishes, fails or postpones a job;
#   person: requeue / set done / cancel from the UI or the API;
#   graph: a parent finished, so a waiting child becomes pending (or cancelled).
TRANSITIONS: dict[str, frozenset[str]] = {
    WAIT_DEPENDENCIES: frozenset({PENDING, CANCELLED, DONE}),
    PENDING: frozenset({ENQUEUED, STARTED, CANCELLED, DONE, FAILED, WAIT_DEPENDENCIES}),
    ENQUEUED: frozenset({STARTED, PENDING, CANCELLED, DONE, FAILED}),
    STARTED: frozenset({DONE, FAILED, PENDING, CANCELLED}),
    DONE: frozenset({PENDING, WAIT_DEPENDENCIES, CANCELLED}),
    CANCELLED: frozenset({PENDING, WAIT_DEPENDENCIES, DONE}),
    FAILED: frozenset({PENDING, WAIT_DEPENDENCIES, DONE, CANCELLED}),
}


class InvalidStateTransition(ValueError):
    """A job was asked to move between two states that are not connected."""

    def __init__(self, old: str, new: str, job: str = ""):
        self.old = old
        self.new = new
        who = f"job {job}: " if job else ""
        super().__init__(f"{who}cannot go from state '{old}' to state '{new}'")


def check_transition(old: str | None, new: str, job: str = "") -> None:
    """Raise InvalidStateTransition unless ``old -> new`` is legal.

    ``old`` is None for a job that is being created: it may start pending or
    waiting for its dependencies. Staying in the same state is always legal.
    """
    if new not in _ALL:
        raise InvalidStateTransition(str(old), new, job)
    if old is None:
        if new not in (PENDING, WAIT_DEPENDENCIES):
            raise InvalidStateTransition("new", new, job)
        return
    if old == new:
        return
    if new not in TRANSITIONS.get(old, ()):
        raise InvalidStateTransition(old, new, job)


def can_transition(old: str | None, new: str) -> bool:
    try:
        check_transition(old, new)
    except InvalidStateTransition:
        return False
    return True
