"""
Tests for pserv.region.store.transitions, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import bindparam, insert, select

from pserv.power.states import TRANSITIONS, UNSTARTED, ActionStatus, InvalidTransition
from pserv.region import schema
from pserv.region.errors import NotFound
from pserv.region.store.common import utc
from pserv.region.store.nodes import create_node
from pserv.region.store.transitions import STAMPS, move, move_by, move_one, moving
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE

PENDING, SENT, RUNNING = ActionStatus.PENDING, ActionStatus.SENT, ActionStatus.RUNNING
DONE, FAILED, CANCELLED = ActionStatus.DONE, ActionStatus.FAILED, ActionStatus.CANCELLED


@pytest.fixture
def node(run, moments):
    body = {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}, "cluster": "rack-1"}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


@pytest.fixture
def make(run, moments, node):
    """Insert one action in a given status; its id."""

    def insert_action(connection, status):
        return connection.execute(
            insert(schema.power_actions).values(
                node_id=node["id"], kind="on", generation=1, status=status.value, requested_by="test",
                requested_at=utc(moments()), cancel_requested=False,
            ).returning(schema.power_actions.c.id)
        ).scalar_one()

    return lambda status: run(insert_action, status)


def row(run, action_id):
    table = schema.power_actions
    return run(lambda connection: connection.execute(select(table).where(table.c.id == action_id)).one())


def test_every_declared_transition_moves_and_no_other(run, moments, make):
    """Asked of one action, each change the table lists is made and stamped; every other one raises InvalidTransition."""
    for start in ActionStatus:
        for to in ActionStatus:
            action_id = make(start)
            if to in TRANSITIONS[start]:
                run(move_one, action_id, to, moments(1))
                moved = row(run, action_id)
                assert moved.status == to.value
                assert to not in STAMPS or getattr(moved, STAMPS[to]) == moments.now
            else:
                with pytest.raises(InvalidTransition, match=f"from {start.value} to {to.value}"):
                    run(move_one, action_id, to, moments(1))
                assert row(run, action_id).status == start.value


def test_done_cannot_become_failed(run, moments, make):
    """A done action asked to fail is refused, and stays done with nothing else changed."""
    action_id = make(DONE)
    with pytest.raises(InvalidTransition, match="from done to failed"):
        run(move_one, action_id, FAILED, moments(), error="late")
    assert (row(run, action_id).status, row(run, action_id).error) == ("done", None)


def test_move_one_of_no_action(run, moments, node):
    """Moving an action that does not exist is NotFound."""
    with pytest.raises(NotFound, match="no action 404"):
        run(move_one, 404, CANCELLED, moments())


def test_move_moves_only_the_actions_that_may_and_says_which(run, moments, make):
    """Of several actions, only those whose status may reach the new one move; the others are left alone."""
    pending, sent, done = make(PENDING), make(SENT), make(DONE)
    assert run(move, [done, sent, pending], SENT, moments(1)) == [pending]
    assert [row(run, i).status for i in (pending, sent, done)] == ["sent", "sent", "done"]
    assert row(run, pending).sent_at == moments.now and row(run, sent).sent_at is None
    assert run(move, [done, pending], CANCELLED, moments(1)) == [pending]
    assert run(move, [], CANCELLED, moments(1)) == []


def test_move_sets_the_other_columns_given(run, moments, make):
    """Columns given with the move are written with the status, and only on the actions that moved."""
    running, done = make(RUNNING), make(DONE)
    assert run(move, [running, done], FAILED, moments(1), error="BMC timed out", power_state="on") == [running]
    assert (row(run, running).error, row(run, running).power_state, row(run, running).finished_at) == (
        "BMC timed out", "on", moments.now)
    assert row(run, done).error is None


def test_only_from_narrows_the_statuses_moved(run, moments, make):
    """With only_from, an action in another allowed status is not moved."""
    pending, sent, running = make(PENDING), make(SENT), make(RUNNING)
    assert run(move, [pending, sent, running], FAILED, moments(1), only_from=UNSTARTED) == [pending, sent]
    assert row(run, running).status == "running"


def test_only_from_an_undeclared_status_is_an_error(run, moments, make):
    """Asking to move from a status the table does not let reach the new one raises, and moves nothing."""
    pending, done = make(PENDING), make(DONE)
    with pytest.raises(InvalidTransition, match="from done to failed"):
        run(move, [pending, done], FAILED, moments(1), only_from={PENDING, DONE})
    assert [row(run, i).status for i in (pending, done)] == ["pending", "done"]


def test_nothing_becomes_pending(run, moments, make):
    """No status reaches pending: moving there moves nothing, and asking it of one action raises."""
    sent = make(SENT)
    assert run(move, [sent], PENDING, moments(1)) == []
    with pytest.raises(InvalidTransition):
        run(move_one, sent, PENDING, moments(1))


def test_the_status_is_not_a_column_to_set(run, moments, make):
    """move sets the status and its time itself: passing either as a column is a TypeError."""
    pending = make(PENDING)
    with pytest.raises(TypeError):
        run(move, [pending], SENT, moments(), status="done")
    with pytest.raises(TypeError):
        run(move, [pending], SENT, moments(), sent_at=moments())


def test_a_statement_built_once_moves_only_from_the_statuses_given(run, moments, make, node):
    """moving() with only_from={pending}: of the node's actions, just the pending ones move, stamped, in id order."""
    table = schema.power_actions
    statement = moving(CANCELLED, table.c.node_id == bindparam("node"), only_from={PENDING},
                       returning=(table.c.id, table.c.kind), error=bindparam("why"))
    pending, sent, other = make(PENDING), make(SENT), make(PENDING)
    moved = run(move_by, statement, moments(5), node=node["id"], why="test")
    assert [(r.id, r.kind) for r in moved] == [(pending, "on"), (other, "on")]
    assert [row(run, i).status for i in (pending, sent, other)] == ["cancelled", "sent", "cancelled"]
    assert (row(run, pending).finished_at, row(run, pending).error) == (moments.now, "test")
    assert run(move_by, statement, moments(), node=node["id"], why="again") == []


def test_a_statement_built_once_refuses_what_the_table_does_not_list():
    """moving() checks only_from against the table when it is built, as move() does when it runs."""
    with pytest.raises(InvalidTransition):
        moving(PENDING, only_from={DONE}, returning=())
    with pytest.raises(TypeError, match="sets the status"):
        moving(CANCELLED, only_from={PENDING}, returning=(), status="done")
