"""
Tests for pserv.power.decisions: the registry walked cell by cell.

Each cell's row is built for real in a registry against an in-memory BMC
(in flight at its first read, or cancelling while its command is in
flight), the cell's request is made, and what happens is checked against
the cell's decision.  The cancel table is walked the same way: each
situation is built, one request is cancelled, and what happens to it, to
the other requests and to the action is checked against the cell.
"""

from pathlib import Path

import pytest
from twisted.internet.task import Clock

from pserv.power.decisions import (
    CANCEL_TABLE,
    CANCELLING,
    CANCELS,
    DECISIONS,
    IN_FLIGHT_KEYS,
    IN_FLIGHT_PLACE,
    LEFT_ANOTHER_KIND,
    LEFT_ITS_KIND,
    LEFT_NOTHING,
    NONE,
    TABLE,
    TOLD_TO_STOP,
    WAITING_KEYS,
    WAITING_PLACE,
    CancelDecision,
    Decision,
    boot_decision,
    render_boot_rules,
    render_cancels,
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


def test_docs_show_the_cancel_table():
    """docs/power-actions.md shows the cancel table exactly as the code holds it."""
    doc = Path(__file__).parents[2] / "docs" / "power-actions.md"
    assert render_cancels() in doc.read_text()


def test_cancel_table_is_complete():
    """Every place and everything left has one cancel rule, with a reason."""
    places, lefts = (IN_FLIGHT_PLACE, TOLD_TO_STOP, WAITING_PLACE), (LEFT_NOTHING, LEFT_ITS_KIND, LEFT_ANOTHER_KIND)
    assert set(CANCELS) == {(p, left) for p in places for left in lefts} and len(CANCEL_TABLE) == 9
    assert all(len(c.reason) > 20 for c in CANCEL_TABLE)


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


def same_answer(query, ridden, kind):
    """A request joining an action gets its outcome; a query riding a soft off, the answer of its next read."""
    if kind == "soft_off" and query.kind is ActionKind.QUERY:
        assert (query.status, query.kind, query.action_id) == (OutcomeStatus.DONE, ActionKind.QUERY, ridden.action_id)
        assert query.state is not None
    else:
        assert query == ridden


def check_join_in_flight(row, cell):
    assert row.registry.in_play(NODE) == (row.in_flight, row.waiting)
    row.finish()
    assert row.outcomes["new"].action_id == row.in_flight.id
    same_answer(row.outcomes["new"], row.outcomes["first"], cell.in_flight)


def check_join_waiting(row, cell):
    assert row.registry.in_play(NODE) == (row.in_flight, row.waiting)
    row.finish()
    assert row.outcomes["new"].action_id == row.waiting.id
    same_answer(row.outcomes["new"], row.outcomes["second"], cell.waiting)


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
        same_answer(first, row.outcomes["new"], cell.request.value)
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
        same_answer(row.outcomes["second"], row.outcomes["new"], cell.request.value)
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


# The cancel table

CANCEL_SITUATIONS = {
    # (place, left): (node's power, [(id, kind)] in order, seconds after the first, the id to cancel)
    (IN_FLIGHT_PLACE, LEFT_NOTHING): (PowerState.OFF, [(1, "on"), (9, "query")], 0.0, 1),
    (IN_FLIGHT_PLACE, LEFT_ITS_KIND): (PowerState.OFF, [(1, "on"), (2, "on"), (9, "query")], 0.0, 1),
    (IN_FLIGHT_PLACE, LEFT_ANOTHER_KIND): (PowerState.ON, [(1, "cycle"), (2, "on"), (9, "query")], 0.0, 1),
    (TOLD_TO_STOP, LEFT_NOTHING): (PowerState.OFF, [(1, "on"), (3, "off")], 1.5, 1),
    (TOLD_TO_STOP, LEFT_ITS_KIND): (PowerState.OFF, [(1, "on"), (2, "on"), (3, "off")], 1.5, 1),
    (TOLD_TO_STOP, LEFT_ANOTHER_KIND): (PowerState.ON, [(1, "cycle"), (2, "on"), (3, "off")], 1.5, 1),
    (WAITING_PLACE, LEFT_NOTHING): (PowerState.ON, [(1, "off"), (2, "on"), (9, "query")], 1.5, 2),
    (WAITING_PLACE, LEFT_ITS_KIND): (PowerState.ON, [(1, "off"), (2, "on"), (3, "on"), (9, "query")], 1.5, 2),
    (WAITING_PLACE, LEFT_ANOTHER_KIND): (PowerState.ON, [(1, "off"), (2, "cycle"), (3, "on"), (9, "query")], 1.5, 2),
}
"""How to build each cell's situation: the first request runs alone for a while (past its read, for a
command in flight that no cancel can interrupt), then the others come; the last id is cancelled."""


class Situation:
    """A registry holding one cancel cell's situation for NODE."""

    def __init__(self, power, requests, seconds):
        self.clock = Clock()
        self.registry = PowerActionRegistry(self.clock)
        self.bmc = FakeBMC(self.clock, power=power, latency=1.0)
        self.outcomes = {}
        for n, (request_id, kind) in enumerate(requests):
            self.registry.request(NODE, kind, self.bmc, action_id=request_id, generation=request_id).addCallback(
                lambda outcome, i=request_id: self.outcomes.__setitem__(i, outcome)
            )
            if n == 0:
                self.clock.advance(seconds)
        self.ids = [i for i, _ in requests]
        self.in_flight, self.waiting = self.registry.in_play(NODE)


@pytest.mark.parametrize("cell", CANCEL_TABLE, ids=lambda c: f"{c.place}-{c.left}".replace(" ", "_"))
def test_cancel_cell(cell):
    """A cancel of one request does what its cell says, and ends only that request cancelled."""
    power, requests, seconds, named = CANCEL_SITUATIONS[(cell.place, cell.left)]
    situation = Situation(power, requests, seconds)
    assert situation.registry.cancel(NODE, named)
    CANCEL_CHECKS[cell.decision](situation, named)
    advance_until_idle(situation.clock)
    outcomes = situation.outcomes
    assert set(outcomes) == set(situation.ids) and situation.registry.in_play(NODE) == (None, None)
    assert outcomes[named].status in (OutcomeStatus.CANCELLED, OutcomeStatus.DONE)
    others = [outcomes[i] for i in situation.ids if i != named]
    assert OutcomeStatus.CANCELLED not in [o.status for o in others]
    assert all(o.state is not None for i, o in outcomes.items() if i == 9), "a query ends with a state"


def check_detach(situation, named):
    assert situation.outcomes[named].status is OutcomeStatus.CANCELLED
    assert situation.registry.in_play(NODE) == (situation.in_flight, situation.waiting)
    assert not any(r.id == named for a in situation.registry.in_play(NODE) if a for r in _requests(situation, a))


def check_take_over(situation, named):
    in_flight, waiting = situation.registry.in_play(NODE)
    newest = max(i for i in situation.ids if i not in (named, 9))
    new = waiting or in_flight
    assert new.id == newest and new.kind is not situation.in_flight.kind
    if in_flight is situation.in_flight and situation.waiting is None:
        assert in_flight.lifecycle.state is ActionState.CANCELLING and named not in situation.outcomes
    else:
        assert situation.outcomes[named].status is OutcomeStatus.CANCELLED
    advance_until_idle(situation.clock)
    assert (situation.outcomes[newest].status, situation.outcomes[newest].action_id) == (OutcomeStatus.DONE, newest)


def check_stop(situation, named):
    in_flight, waiting = situation.registry.in_play(NODE)
    if situation.waiting is not None and situation.waiting.id == named:
        assert waiting is None and situation.outcomes[named].status is OutcomeStatus.CANCELLED
    else:
        assert situation.in_flight.lifecycle.state in (ActionState.CANCELLING, ActionState.DONE)


def _requests(situation, action):
    slot = situation.registry._slots[NODE]
    return next(p.requests for p in slot.plays() if p.action is action)


CANCEL_CHECKS = {
    CancelDecision.DETACH: check_detach,
    CancelDecision.TAKE_OVER: check_take_over,
    CancelDecision.STOP: check_stop,
}


def test_docs_show_the_boot_rules():
    """docs/power-actions.md shows the boot-device rules exactly as the code holds them."""
    doc = Path(__file__).parents[2] / "docs" / "power-actions.md"
    assert render_boot_rules() in doc.read_text()


@pytest.mark.parametrize("decision", list(Decision))
def test_the_same_boot_setting_changes_no_decision(decision):
    """A request with the action's boot setting gets the table's decision, whatever it is."""
    assert boot_decision(decision, True) is decision


def test_another_boot_setting_turns_joins_into_supersedes():
    """A join of an action with another boot setting supersedes it (in flight) or replaces it (waiting); nothing else changes."""
    changed = {d: boot_decision(d, False) for d in Decision if boot_decision(d, False) is not d}
    assert changed == {Decision.JOIN_IN_FLIGHT: Decision.SUPERSEDE, Decision.JOIN_WAITING: Decision.REPLACE_WAITING}
