"""
The one place the region changes a power action's status.

:func:`move` writes ``UPDATE ... WHERE status IN (...)`` with only the
statuses :data:`~pserv.power.states.TRANSITIONS` lets reach the new one, so
no statement can make a change the table does not list; :func:`move_one`
is the direct request for one action, and refuses an undeclared change
with :class:`~pserv.power.states.InvalidTransition`.  :func:`moving`
builds, once, a statement under the same rule for actions chosen by
other conditions than their ids (a hot path's), which :func:`move_by`
runs.  Inserting a new ``pending`` action is not a change of status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Mapping

from sqlalchemy import ColumnElement, Update, bindparam, case, literal, select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.states import FINAL, ActionStatus, reaching
from pserv.power.states import values as status_values
from pserv.region import schema
from pserv.region.errors import NotFound
from pserv.region.store.common import constants, utc

STAMPS = {
    ActionStatus.SENT: "sent_at",
    ActionStatus.RUNNING: "started_at",
    **{status: "finished_at" for status in FINAL},
}
"""The column that records when an action reached each status (``timed_out``
has none: its event says when, and the outcome that may follow stamps
``finished_at``)."""


def move(
    connection: Connection,
    action_ids: Collection[int],
    to: ActionStatus,
    now: datetime,
    *,
    only_from: Collection[ActionStatus] | None = None,
    **values: Any,
) -> list[int]:
    """
    Move those of the actions ``action_ids`` whose status may become ``to``;
    the others are left as they are.  The time of the change goes in the
    status's column (:data:`STAMPS`), if it has one.

    :param action_ids: the actions to move.
    :param to: their new status.
    :param now: when.
    :param only_from: move only actions in these statuses (each must be
        allowed to reach ``to``); by default, from every status that is.
    :param values: other columns to set with the status.
    :return: the ids of the actions that moved, in order: how many moved
        is its length.
    :raises InvalidTransition: when ``only_from`` names a status the table
        does not let become ``to``.
    """
    if "status" in values or STAMPS.get(to) in values:
        raise TypeError("move() sets the status and its time itself")
    sources = reaching(to) if only_from is None else _allowed(only_from, to)
    if not action_ids or not sources:
        return []
    table = schema.power_actions
    statement = (
        update(table)
        .where(table.c.id.in_(sorted(set(action_ids))), table.c.status.in_(status_values(sources)))
        .values(status=to.value, **({STAMPS[to]: utc(now)} if to in STAMPS else {}), **values)
        .returning(table.c.id)
    )
    return sorted(connection.execute(statement).scalars().all())


def move_each(
    connection: Connection,
    changes: Mapping[int, Mapping[str, Any]],
    to: ActionStatus,
    now: datetime,
) -> list[int]:
    """
    :func:`move` for actions that each set other columns to values of their
    own, in one statement: ``changes`` maps each action's id to its columns.
    Every action names the same columns.

    :return: the ids of the actions that moved, in order.
    """
    if not changes:
        return []
    table = schema.power_actions
    columns = next(iter(changes.values())).keys()
    each = {
        column: case(
            {action: literal(change[column], table.c[column].type) for action, change in changes.items()},
            value=table.c.id,
        )
        for column in columns
    }
    return move(connection, list(changes), to, now, **each)


def move_one(connection: Connection, action_id: int, to: ActionStatus, now: datetime, **values: Any) -> None:
    """
    Move the action ``action_id`` to ``to``, as asked directly: the action
    is locked, and a change the table does not list is refused.

    :param action_id: the action.
    :param to: its new status.
    :param now: when.
    :param values: other columns to set with the status.
    :raises NotFound: there is no such action.
    :raises InvalidTransition: the action's status may not become ``to``.
    """
    table = schema.power_actions
    row = connection.execute(select(table.c.status).where(table.c.id == action_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"no action {action_id}", "action")
    ActionStatus(row.status).check_transition(to)
    move(connection, [action_id], to, now, **values)


def moving(
    to: ActionStatus,
    *conditions: ColumnElement[bool],
    only_from: Collection[ActionStatus],
    returning: Collection[Any],
    **values: Any,
) -> Update:
    """
    A statement, built once, that moves to ``to`` the actions meeting
    ``conditions`` and in one of the statuses ``only_from``, as
    :func:`move` does; run it with :func:`move_by`.  The time of the
    change is its bind parameter ``moved_at``.

    :param returning: the columns it returns of each action moved.
    :param values: other columns to set with the status (bind parameters,
        or values).
    :raises InvalidTransition: when ``only_from`` names a status the table
        does not let become ``to``.
    """
    if "status" in values or STAMPS.get(to) in values:
        raise TypeError("moving() sets the status and its time itself")
    table = schema.power_actions
    stamp = {STAMPS[to]: bindparam("moved_at")} if to in STAMPS else {}
    return (
        update(table)
        .where(*conditions, table.c.status.in_(constants(status_values(_allowed(only_from, to)))))
        .values(status=to.value, **stamp, **values)
        .returning(*returning)
    )


def move_by(connection: Connection, statement: Update, now: datetime, **parameters: Any) -> list[Row[Any]]:
    """Run ``statement`` (from :func:`moving`) at ``now``: the rows it returns, in action id order."""
    rows = connection.execute(statement, {"moved_at": utc(now), **parameters}).all()
    return sorted(rows, key=lambda row: row.id)


def _allowed(only_from: Collection[ActionStatus], to: ActionStatus) -> frozenset[ActionStatus]:
    for status in only_from:
        status.check_transition(to)
    return frozenset(only_from)
