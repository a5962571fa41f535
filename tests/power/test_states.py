"""
Tests for pserv.power.states.
"""

from pathlib import Path

import pytest

from pserv.power.states import (
    DEFINITE,
    FINAL,
    IN_FLIGHT,
    OUTSTANDING,
    TRANSITIONS,
    UNSTARTED,
    ActionKind,
    ActionStatus,
    InvalidTransition,
    PowerState,
    reaching,
    render_transitions,
    values,
)


def test_targets():
    """on and cycle end on, off and soft_off end off, query changes nothing."""
    assert {k.value: k.target for k in ActionKind} == {
        "on": PowerState.ON, "cycle": PowerState.ON,
        "off": PowerState.OFF, "soft_off": PowerState.OFF, "query": None,
    }
    assert [k.value for k in ActionKind if not k.changes_power] == ["query"]


def test_values_are_the_api_names():
    """States and kinds compare equal to the names the API uses."""
    assert PowerState("on") is PowerState.ON and ActionKind("soft_off") is ActionKind.SOFT_OFF
    assert PowerState.ERROR == "error"


def test_groups_partition_the_statuses():
    """Every status is final or outstanding, never both; in flight and unstarted are outstanding."""
    assert FINAL | OUTSTANDING == set(ActionStatus) and not FINAL & OUTSTANDING
    assert IN_FLIGHT <= OUTSTANDING and UNSTARTED <= OUTSTANDING
    assert values(IN_FLIGHT) == ["running", "sent", "timed_out"] and values(UNSTARTED) == ["pending", "sent"]
    assert [s.value for s in ActionStatus if s.final] == ["done", "failed", "superseded", "cancelled"]


def test_timed_out_is_not_an_end():
    """Only a sent action times out; timed_out is outstanding and in flight, and still takes a running report and every outcome."""
    timed_out = ActionStatus.TIMED_OUT
    assert not timed_out.final and timed_out in OUTSTANDING and timed_out in IN_FLIGHT
    assert reaching(timed_out) == {ActionStatus.SENT}
    assert TRANSITIONS[timed_out] == FINAL | {ActionStatus.RUNNING}
    assert not ActionStatus.RUNNING.may_become(timed_out) and not ActionStatus.PENDING.may_become(timed_out)


def test_table_covers_every_status_and_final_is_final():
    """The table has a row for every status; a final status goes nowhere, an outstanding one can end every way."""
    assert set(TRANSITIONS) == set(ActionStatus)
    assert all(TRANSITIONS[s] == frozenset() for s in FINAL)
    assert all(FINAL <= TRANSITIONS[s] for s in OUTSTANDING)


def test_no_status_goes_back_or_stays():
    """No status becomes itself, and nothing returns to pending, or to sent once running."""
    assert all(not s.may_become(s) for s in ActionStatus)
    assert reaching(ActionStatus.PENDING) == frozenset()
    assert not ActionStatus.RUNNING.may_become(ActionStatus.SENT)


def test_reaching_is_the_table_read_backwards():
    """reaching(to) holds exactly the statuses whose row lists to."""
    for to in ActionStatus:
        assert reaching(to) == {s for s in ActionStatus if to in TRANSITIONS[s]}
    assert reaching(ActionStatus.SENT) == {ActionStatus.PENDING}
    assert reaching(ActionStatus.RUNNING) == UNSTARTED | {ActionStatus.TIMED_OUT}
    assert reaching(ActionStatus.FAILED) == OUTSTANDING


def test_undeclared_transition_is_an_error():
    """A change the table does not list, such as done to failed, raises InvalidTransition."""
    with pytest.raises(InvalidTransition, match="from done to failed"):
        ActionStatus.DONE.check_transition(ActionStatus.FAILED)
    with pytest.raises(InvalidTransition, match="from running to sent"):
        ActionStatus.RUNNING.check_transition(ActionStatus.SENT)
    ActionStatus.PENDING.check_transition(ActionStatus.SENT)
    assert issubclass(InvalidTransition, ValueError)


def test_statuses_compare_equal_to_their_names():
    """A status from the database or the API (a plain string) is found in the groups."""
    assert "done" in FINAL and "pending" in OUTSTANDING and "sent" in IN_FLIGHT
    assert ActionStatus("superseded") is ActionStatus.SUPERSEDED and ActionStatus.CANCELLED == "cancelled"


def test_definite_states():
    """Only on and off say where power is."""
    assert values(DEFINITE) == ["off", "on"] and "unknown" not in DEFINITE and "error" not in DEFINITE


def test_docs_show_the_transitions():
    """docs/api.md shows the transition table exactly as the code holds it."""
    doc = Path(__file__).parents[2] / "docs" / "api.md"
    assert render_transitions() in doc.read_text()
