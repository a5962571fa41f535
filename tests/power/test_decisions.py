"""
Tests for pserv.power.decisions: the registry walked cell by cell.

Each cell's row is built for real in a registry against an in-memory BMC
(in flight at its first read, or cancelling while its command is in
flight), the cell's request is made, and what happens is checked against
the cell's decision.
"""

from pathlib import Path

import pytest
from twisted.internet.task import Clock

from pserv.power.decisions import (
    CANCELLING,
    DECISIONS,
    IN_FLIGHT_KEYS,
    NONE,
    TABLE,
    WAITING_KEYS,
    Decision,
    render_markdown,
)
from pserv.power.lifecycle import ActionState
from pserv.power.outcome import OutcomeStatus
from pserv.power.registry import PowerActionRegistry
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle

NODE = "node-1"
STARTING_POWER = {
    "query": PowerState.ON,
    "on": PowerState.OFF,
    "off": PowerState.ON,
    "cycle": PowerState.ON,
    "soft_off": PowerState.ON,
}


class Row:
    """A registry holding one row of the table for NODE."""

    def __init__(self, in_flight: str, waiting: str) -> None:
        self.clock = Clock()
        self.registry = PowerActionRegistry(self.clock)
        self.bmc = FakeBMC(self.clock, power=STARTING_POWER.get(in_flight, PowerState.ON), latency=1.0)
        self.outcomes = {}
        if in_flight == CANCELLING:
            self.ask("first", "off")
            self.clock.advance(1.5)
            self.registry.cancel(NODE, self.registry.in_play(NODE)[0].id)
        elif in_flight != NONE:
            self.ask("first", in_flight)
        if waiting != NONE:
            self.ask("second", waiting)
        assert self.registry.row(NODE) == (in_flight, waiting)
        self.in_flight, self.waiting = self.registry.in_play(NODE)

    def ask(self, name: str, kind: str):
        self.registry.request(NODE, kind, self.bmc).addCallback(
            lambda outcome: self.outcomes.__setitem__(name, outcome)
        )

    def finish(self):
        advance_until_idle(self.clock)


def test_table_is_complete_over_reachable_rows():
    """Every listed row has a decision for each of the five kinds."""
    rows = {(c.in_flight, c.waiting) for c in TABLE}
    assert len(rows) == 12 and len(TABLE) == 60
    assert all(i in IN_FLIGHT_KEYS and w in WAITING_KEYS for i, w in rows)
    assert all((i, w, k) in DECISIONS for i, w in rows for k in ActionKind)


def test_every_cell_has_a_reason():
    """Every cell says why."""
    assert all(len(c.reason) > 20 for c in TABLE)


def test_docs_show_the_table():
    """docs/power-actions.md shows the table exactly as the code holds it."""
    doc = Path(__file__).parents[2] / "docs" / "power-actions.md"
    assert render_markdown() in doc.read_text()


@pytest.mark.parametrize("cell", TABLE, ids=lambda c: f"{c.in_flight}-{c.waiting}-{c.request.value}")
def test_cell(cell):
    """The registry does what the cell says."""
    row = Row(cell.in_flight, cell.waiting)
    row.ask("new", cell.request.value)
    CHECKS[cell.decision](row, cell)
    row.finish()
    assert set(row.outcomes) >= {"new"} | ({"first"} if cell.in_flight != NONE else set())
    assert row.registry.in_play(NODE) == (None, None)


def check_start(row, cell):
    in_flight, waiting = row.registry.in_play(NODE)
    assert (in_flight.kind, waiting) == (cell.request, None)
    assert in_flight.lifecycle.state is ActionState.RUNNING
    row.finish()
    assert row.outcomes["new"].action_id == in_flight.id


def check_join_in_flight(row, cell):
    assert row.registry.in_play(NODE) == (row.in_flight, row.waiting)
    row.finish()
    assert row.outcomes["new"].action_id == row.in_flight.id
    assert row.outcomes["new"] == row.outcomes["first"]


def check_join_waiting(row, cell):
    assert row.registry.in_play(NODE) == (row.in_flight, row.waiting)
    row.finish()
    assert row.outcomes["new"].action_id == row.waiting.id
    assert row.outcomes["new"] == row.outcomes["second"]


def check_supersede(row, cell):
    in_flight, waiting = row.registry.in_play(NODE)
    if in_flight is row.in_flight:
        assert in_flight.lifecycle.state is ActionState.CANCELLING
        new = waiting
    else:
        assert row.in_flight.lifecycle.state is ActionState.DONE
        new = in_flight
    assert new.kind is cell.request
    row.finish()
    first = row.outcomes["first"]
    if cell.in_flight == "query":
        assert first == row.outcomes["new"]
    else:
        assert (first.status, first.superseded_by) == (OutcomeStatus.SUPERSEDED, new.id)
    assert row.outcomes["new"].action_id == new.id


def check_wait(row, cell):
    in_flight, waiting = row.registry.in_play(NODE)
    assert in_flight is row.in_flight and in_flight.lifecycle.state is ActionState.CANCELLING
    assert waiting.kind is cell.request
    row.finish()
    first = row.outcomes["first"]
    assert (first.status, first.commands) == (OutcomeStatus.DONE, ("power_off",)), (
        "cancelled with its only command in flight, it verified it and was done"
    )
    assert row.outcomes["new"].action_id == waiting.id


def check_replace_waiting(row, cell):
    in_flight, waiting = row.registry.in_play(NODE)
    assert in_flight is row.in_flight
    assert waiting is not row.waiting and waiting.kind is cell.request
    assert row.waiting.lifecycle.state is ActionState.DONE
    if cell.waiting == "query":
        assert "second" not in row.outcomes
        row.finish()
        assert row.outcomes["second"] == row.outcomes["new"]
    else:
        second = row.outcomes["second"]
        assert (second.status, second.superseded_by) == (OutcomeStatus.SUPERSEDED, waiting.id)
        row.finish()
    assert row.outcomes["new"].action_id == waiting.id


CHECKS = {
    Decision.START: check_start,
    Decision.JOIN_IN_FLIGHT: check_join_in_flight,
    Decision.JOIN_WAITING: check_join_waiting,
    Decision.SUPERSEDE: check_supersede,
    Decision.WAIT: check_wait,
    Decision.REPLACE_WAITING: check_replace_waiting,
}
