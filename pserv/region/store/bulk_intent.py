"""
Many nodes' power intents at once: what
:func:`~pserv.region.store.actions.request_intent` does for each of them,
in a few statements however many nodes there are.

For locked nodes, in id order, the same rows and events as a request for
each node after the other: a node whose newest outstanding action asks the
same (:data:`~pserv.region.store.actions.DUPLICABLE`) joins it, with a
``power_coalesced`` event; every other node gets a new pending action and
its ``power_requested`` event, and, for a power kind, its desired state
set, its generation counted up (``desired_before`` recorded on the action)
and its older pending power actions superseded, each with its event.  The
events are inserted in the order the node-by-node requests would insert
them.  Each statement takes at most :data:`~pserv.region.store.common.CHUNK`
nodes; the inserts are one ``executemany`` each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.states import ActionKind, ActionStatus, values
from pserv.region import schema
from pserv.region.errors import Conflict, Invalid
from pserv.power.boot import BootDevice, BootSetting
from pserv.region.store.actions import (
    DUPLICABLE,
    action_json,
    boot_columns,
    check_reason,
    requested_message,
    same_request,
)
from pserv.region.store.common import add_events, chunks, event_row, utc
from pserv.region.store.locks import refuse_if_locked
from pserv.region.store.schedules import schedule
from pserv.region.store.transitions import move

_ACTIONS = schema.power_actions


def request_intents(
    connection: Connection, nodes: Sequence[Row], kind: ActionKind, requested_by: str, now: datetime,
    *, escalate_after: float | None = None, reason: str | None = None, boot: BootSetting | None = None,
    not_before: datetime | None = None,
) -> list[dict[str, Any]]:
    """
    Commit one power intent for each of the locked ``nodes`` (in id order,
    each once), as :func:`~pserv.region.store.actions.request_intent` would
    one after the other.

    :return: each node's action (new, or the outstanding one it joined), in
        the nodes' order, as the API shows an action.
    :raises Invalid: ``escalate_after`` for another kind than ``soft_off``,
        a bad ``reason``, or ``not_before`` too far ahead.
    :raises Conflict: a node is being deleted, or locked and ``kind`` switches it off.
    """
    _check(nodes, kind, escalate_after, reason)
    not_before = schedule(not_before, now)
    newest = newest_outstanding(connection, [node.id for node in nodes])
    joined = {i: row for i, row in newest.items() if same_request(row, kind, escalate_after, boot, not_before, now)}
    fresh = [node for node in nodes if node.id not in joined]
    made = _insert_actions(connection, fresh, kind, requested_by, now, escalate_after, reason, boot, not_before)
    superseded: dict[int, list[Row]] = {}
    if kind.changes_power:
        _set_desired(connection, [node.id for node in fresh], kind, now)
        superseded = _supersede_pending(connection, {i: row.id for i, row in made.items()}, now)
    add_events(connection, [
        event for node in nodes
        for event in (_joined_events(node, kind, requested_by, now, joined[node.id]) if node.id in joined else
                      _made_events(node, kind, requested_by, reason, not_before, now, made[node.id],
                                   superseded.get(node.id, [])))
    ])
    return [action_json(joined[node.id] if node.id in joined else made[node.id]) for node in nodes]


def _check(nodes: Sequence[Row], kind: ActionKind, escalate_after: float | None, reason: str | None) -> None:
    """Refuse what :func:`~pserv.region.store.actions.request_intent` refuses, as it does, before any change."""
    check_reason(reason)
    if escalate_after is not None and kind is not ActionKind.SOFT_OFF:
        raise Invalid("escalate_after: only for soft_off", "escalate_after")
    deleting = next((node for node in nodes if node.lifecycle == "deleting"), None)
    if deleting is not None:
        raise Conflict(f"node {deleting.name} is being deleted", "node")
    for node in nodes:
        refuse_if_locked(node, kind)


def newest_outstanding(connection: Connection, node_ids: Sequence[int]) -> dict[int, Row]:
    """
    Each node's newest action a request may duplicate (its status in
    :data:`~pserv.region.store.actions.DUPLICABLE`), by node id: the nodes
    with none are left out.
    """
    found: dict[int, Row] = {}
    for chunk in chunks(sorted(node_ids)):
        newest = (
            select(func.max(_ACTIONS.c.id))
            .where(_ACTIONS.c.node_id.in_(chunk), _ACTIONS.c.status.in_(values(DUPLICABLE)))
            .group_by(_ACTIONS.c.node_id)
        )
        rows = connection.execute(select(_ACTIONS).where(_ACTIONS.c.id.in_(newest))).all()
        found.update((row.node_id, row) for row in rows)
    return found


def _insert_actions(
    connection: Connection, nodes: Sequence[Row], kind: ActionKind, requested_by: str, now: datetime,
    escalate_after: float | None, reason: str | None, boot: BootSetting | None, not_before: datetime | None,
) -> dict[int, Row]:
    """Insert a pending action for each node, in the nodes' order; the new rows by node id."""
    if not nodes:
        return {}
    boot_device, boot_persistent = boot_columns(boot)
    rows = [
        {"node_id": node.id, "kind": kind.value, "generation": node.generation + (1 if kind.changes_power else 0),
         "status": ActionStatus.PENDING.value, "requested_by": requested_by, "requested_at": utc(now),
         "cancel_requested": False, "desired_before": node.desired_power_state if kind.changes_power else None,
         "escalate_after": escalate_after, "reason": reason, "boot_device": boot_device,
         "boot_persistent": boot_persistent, "not_before": not_before}
        for node in nodes
    ]
    # The rows come back matched by their node, not by their order.  On
    # PostgreSQL the ordered form numbers them in the nodes' order; SQLite
    # numbers a multi-row VALUES in its order anyway, and asked for the
    # order SQLAlchemy would insert one row a statement (it has nothing to
    # match SQLite's RETURNING rows to the parameters by).
    ordered = connection.dialect.name != "sqlite"
    statement = insert(_ACTIONS).returning(*_ACTIONS.c, sort_by_parameter_order=ordered)
    return {row.node_id: row for row in connection.execute(statement, rows).all()}


def _set_desired(connection: Connection, node_ids: Sequence[int], kind: ActionKind, now: datetime) -> None:
    """The nodes want ``kind``'s target state; their generations count up by one."""
    nodes = schema.nodes
    for chunk in chunks(node_ids):
        connection.execute(
            update(nodes).where(nodes.c.id.in_(chunk)).values(
                desired_power_state=kind.target.value, generation=nodes.c.generation + 1, updated_at=utc(now)
            )
        )


def _supersede_pending(connection: Connection, newer: dict[int, int], now: datetime) -> dict[int, list[Row]]:
    """
    Mark each node's older pending power actions superseded by its new
    action (``newer``: the new action's id by node id); those moved, in id
    order, by node id.
    """
    moved: dict[int, list[Row]] = {}
    for chunk in chunks(sorted(newer)):
        older = _older_pending(connection, {i: newer[i] for i in chunk})
        if not older:
            continue
        by_node = case({row.node_id: newer[row.node_id] for row in older}, value=_ACTIONS.c.node_id)
        done = set(move(connection, [row.id for row in older], ActionStatus.SUPERSEDED, now,
                        only_from={ActionStatus.PENDING}, superseded_by=by_node))
        for row in older:
            if row.id in done:
                moved.setdefault(row.node_id, []).append(row)
    return moved


def _older_pending(connection: Connection, newer: dict[int, int]) -> list[Row]:
    """The pending power actions of the nodes ``newer`` names, but their new ones, in id order."""
    return connection.execute(
        select(_ACTIONS.c.id, _ACTIONS.c.kind, _ACTIONS.c.node_id).where(
            _ACTIONS.c.node_id.in_(list(newer)), _ACTIONS.c.status == ActionStatus.PENDING.value,
            _ACTIONS.c.kind != ActionKind.QUERY.value, _ACTIONS.c.id.not_in(list(newer.values())),
        ).order_by(_ACTIONS.c.id)
    ).all()


def _joined_events(node: Row, kind: ActionKind, requested_by: str, now: datetime, joined: Row) -> list[dict[str, Any]]:
    """The event of a node's request that joined its outstanding action ``joined``."""
    message = f"{kind.value} requested by {requested_by}: same as action {joined.id}"
    return [event_row(now, "power_coalesced", message, node, joined.id)]


def _made_events(
    node: Row, kind: ActionKind, requested_by: str, reason: str | None, not_before: datetime | None,
    now: datetime, made: Row, superseded: list[Row],
) -> list[dict[str, Any]]:
    """The events of a node's request that made the action ``made``, in the order its own request inserts them."""
    boot = None if made.boot_device is None else BootSetting(BootDevice(made.boot_device), bool(made.boot_persistent))
    said = requested_message(kind.value, requested_by, reason, boot, not_before)
    return [event_row(now, "power_requested", said, node, made.id)] + [
        event_row(now, "action_superseded", f"{row.kind} action {row.id} superseded by {made.id}", node, row.id)
        for row in superseded
    ]
