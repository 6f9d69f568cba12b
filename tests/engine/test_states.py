"""The job state machine (engine/states.py)."""

from __future__ import annotations

import itertools

import pytest

from engine import states
from engine.states import (
    CANCELLED,
    DONE,
    ENQUEUED,
    FAILED,
    FINAL_STATES,
    PENDING,
    RUNNING_STATES,
    STARTED,
    STATES,
    TRANSITIONS,
    WAIT_DEPENDENCIES,
    InvalidStateTransition,
    can_transition,
    check_transition,
)

ALL_STATES = [state for state, _label in STATES]
LEGAL = sorted((old, new) for old, targets in TRANSITIONS.items() for new in targets)
ILLEGAL = sorted(
    (old, new)
    for old, new in itertools.product(ALL_STATES, ALL_STATES)
    if old != new and new not in TRANSITIONS[old]
)


def test_states_are_the_odoo_selection():
    assert ALL_STATES == [WAIT_DEPENDENCIES, PENDING, ENQUEUED, STARTED, DONE, CANCELLED, FAILED]
    assert len(set(ALL_STATES)) == len(ALL_STATES)
    assert all(isinstance(label, str) and label for _state, label in STATES)


def test_transition_table_covers_every_state_and_only_known_states():
    assert set(TRANSITIONS) == set(ALL_STATES)
    for old, targets in TRANSITIONS.items():
        assert targets <= set(ALL_STATES), old
        assert old not in targets, f"{old} lists itself; staying is implicit"


def test_running_and_final_states():
    assert set(RUNNING_STATES) == {ENQUEUED, STARTED}
    assert set(FINAL_STATES) == {DONE, CANCELLED, FAILED}
    assert not set(RUNNING_STATES) & set(FINAL_STATES)


@pytest.mark.parametrize("old, new", LEGAL)
def test_every_legal_transition_passes(old, new):
    check_transition(old, new)
    check_transition(old, new, job="some-uuid")
    assert can_transition(old, new) is True


@pytest.mark.parametrize("state", ALL_STATES)
def test_staying_in_the_same_state_is_legal(state):
    check_transition(state, state)
    assert can_transition(state, state) is True


def test_there_are_illegal_transitions():
    # if the table allowed everything, the machine would check nothing
    assert len(ILLEGAL) >= 5


@pytest.mark.parametrize("old, new", ILLEGAL)
def test_every_other_transition_raises_naming_both_states(old, new):
    with pytest.raises(InvalidStateTransition) as info:
        check_transition(old, new)
    assert info.value.old == old
    assert info.value.new == new
    message = str(info.value)
    assert f"'{old}'" in message
    assert f"'{new}'" in message
    assert can_transition(old, new) is False


@pytest.mark.parametrize(
    "old, new",
    [
        (STARTED, ENQUEUED),
        (STARTED, WAIT_DEPENDENCIES),
        (ENQUEUED, WAIT_DEPENDENCIES),
        (WAIT_DEPENDENCIES, STARTED),
        (WAIT_DEPENDENCIES, ENQUEUED),
        (WAIT_DEPENDENCIES, FAILED),
        (DONE, STARTED),
        (DONE, ENQUEUED),
        (CANCELLED, STARTED),
        (FAILED, STARTED),
    ],
)
def test_some_illegal_transitions(old, new):
    with pytest.raises(InvalidStateTransition, match=f"from state '{old}' to state '{new}'"):
        check_transition(old, new)


def test_message_names_the_job():
    with pytest.raises(InvalidStateTransition) as info:
        check_transition(DONE, STARTED, job="abc-123")
    assert str(info.value) == "job abc-123: cannot go from state 'done' to state 'started'"
    with pytest.raises(InvalidStateTransition) as info:
        check_transition(DONE, STARTED)
    assert str(info.value) == "cannot go from state 'done' to state 'started'"


@pytest.mark.parametrize("new", [PENDING, WAIT_DEPENDENCIES])
def test_creation_into_pending_or_waiting(new):
    check_transition(None, new)
    assert can_transition(None, new) is True


@pytest.mark.parametrize("new", [ENQUEUED, STARTED, DONE, CANCELLED, FAILED])
def test_creation_into_any_other_state_is_refused(new):
    with pytest.raises(InvalidStateTransition) as info:
        check_transition(None, new, job="u1")
    assert info.value.new == new
    assert f"'{new}'" in str(info.value)
    assert "u1" in str(info.value)
    assert can_transition(None, new) is False


@pytest.mark.parametrize("old", [None, *ALL_STATES])
def test_unknown_target_state_is_rejected(old):
    with pytest.raises(InvalidStateTransition) as info:
        check_transition(old, "exploded")
    assert "'exploded'" in str(info.value)
    assert can_transition(old, "exploded") is False


def test_unknown_state_is_rejected_even_when_staying():
    with pytest.raises(InvalidStateTransition):
        check_transition("exploded", "exploded")


def test_unknown_source_state_is_rejected():
    with pytest.raises(InvalidStateTransition) as info:
        check_transition("exploded", PENDING)
    assert "'exploded'" in str(info.value)
    assert "'pending'" in str(info.value)


def test_invalid_state_transition_is_a_value_error():
    assert issubclass(InvalidStateTransition, ValueError)


def test_transitions_used_by_the_queue_are_legal():
    """The moves the runner, workers and people make (see the comment in states.py)."""
    for old, new in [
        (PENDING, ENQUEUED),  # runner claims
        (ENQUEUED, STARTED),  # worker starts a claimed job
        (PENDING, STARTED),  # worker starts the next job of its slot
        (STARTED, DONE),
        (STARTED, FAILED),
        (STARTED, PENDING),  # retry later / healed
        (STARTED, CANCELLED),  # superseded by a newer job with the same identity key
        (ENQUEUED, PENDING),  # request failed, given back
        (WAIT_DEPENDENCIES, PENDING),  # parents done
        (WAIT_DEPENDENCIES, CANCELLED),  # a parent was cancelled
        (FAILED, PENDING),  # requeue
        (DONE, PENDING),
        (CANCELLED, PENDING),
        (FAILED, DONE),  # set done
        (PENDING, CANCELLED),  # cancel
    ]:
        assert can_transition(old, new), (old, new)
    assert states.TRANSITIONS is TRANSITIONS
