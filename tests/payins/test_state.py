"""The state machine: every allowed transition works, every other one is refused."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.errors import InvalidStateTransition
from kassa.payins import state
from kassa.payins.state import STATES, TRANSITIONS, check_transition

ALL_PAIRS = [(a, b) for a in STATES for b in STATES]
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_allowed_transition(current: str, target: str) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_illegal_transition_is_refused(current: str, target: str) -> None:
    with pytest.raises(InvalidStateTransition) as info:
        check_transition(current, target)
    assert info.value.code == "invalid_state_transition"
    assert info.value.details == {"current_status": current, "requested_status": target}


def test_the_documented_lifecycle() -> None:
    assert len(ALLOWED) == 16
    assert {state.FAILED, state.CANCELED, state.REFUNDED} == state.TERMINAL
    assert state.SUCCEEDED not in TRANSITIONS[state.PENDING]  # never skips processing
    # waiting for the customer: confirmed through processing, or abandoned
    assert TRANSITIONS[state.REQUIRES_ACTION] == {state.PROCESSING, state.CANCELED, state.FAILED}
    assert state.REQUIRES_ACTION in TRANSITIONS[state.PROCESSING]
    assert state.EVENT_FOR[state.REQUIRES_ACTION] == "payment.requires_action"
    assert state.CANCELED not in TRANSITIONS[state.SUCCEEDED]  # captured money is refunded


@given(st.lists(st.sampled_from(STATES), max_size=30))
def test_any_walk_only_follows_allowed_edges(targets: list[str]) -> None:
    """Applying any sequence of requested states: each step either follows an edge of the
    machine or is refused and leaves the state as it was; terminal states never move."""
    current = state.PENDING
    path = [current]
    for target in targets:
        try:
            check_transition(current, target)
        except InvalidStateTransition:
            assert target not in TRANSITIONS[current]
            continue
        assert current not in state.TERMINAL
        current = target
        path.append(current)
    for before, after in itertools.pairwise(path):
        assert after in TRANSITIONS[before]
    if state.SUCCEEDED in path or state.REQUIRES_CAPTURE in path:
        assert path[1] == state.PROCESSING
