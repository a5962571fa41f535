"""
Power actions: intent committed before it is acknowledged.

A power request, in one transaction: lock the node, set its desired state,
count its generation up, insert the action (with the requester's reason,
if one was given), mark the older pending power actions ``superseded``,
append the events.  A request that duplicates the node's newest
outstanding action returns that action instead (the API answers 200
rather than 202), unless that action has timed out; its reason is not
kept, as the action asks the same.  A ``query`` changes no intent and
counts no generation.  A bulk request is all of its nodes' requests and
their batch (:mod:`pserv.region.store.batches`) in one transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from sqlalchemy import bindparam, false, insert, select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.boot import BOOT_KINDS, BootDevice, BootSetting
from pserv.power.states import OUTSTANDING, UNSTARTED, ActionKind, ActionStatus, values
from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.region import schema
from pserv.region.errors import Conflict, Invalid
from pserv.region.store.batches import bulk_nodes, record_batch
from pserv.region.store.common import MAX_ID, add_event, add_events, constants, event_row, iso, one_row, page, utc
from pserv.region.store import moves
from pserv.region.store.intent import settle_intent
from pserv.region.store.leadership import SWEEP_LOCK, once
from pserv.region.store import locks
from pserv.region.store.locks import refuse_if_locked
from pserv.region.store.schedules import counted_from, held, schedule
from pserv.region.store.nodes import create_node, find, lock_for_intent, update_node
from pserv.region.store.transitions import move, move_by, move_one, moving

READ_AFTER_CHANGE = frozenset(["cluster", "power_type", "power_parameters"])
"""Node fields whose change has the node's power read again."""

DUPLICABLE = OUTSTANDING - {ActionStatus.TIMED_OUT}
"""The statuses of an action a new request of the same kind duplicates: a
request made again after its action timed out is a fresh attempt."""

MAX_REASON = 500
"""The longest reason a request may give, in characters."""

REASON_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"
"""What a reason may hold: one line, no control character (C0, DEL, C1)
nor line or paragraph separator; the API's document declares the same.
(A lone surrogate, which no database can store, never reaches the store:
:func:`pserv.region.http.read_json` refuses it.)"""


def action_json(row: Row) -> dict[str, Any]:
    """An action as the API shows it."""
    return {
        "id": row.id,
        "node": row.node_id,
        "kind": row.kind,
        "status": row.status,
        "generation": row.generation,
        "requested_by": row.requested_by,
        "requested_at": iso(row.requested_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "error": row.error,
        "superseded_by": row.superseded_by,
        "power_state": row.power_state,
        "cancel_requested": bool(row.cancel_requested),
        "escalate_after": row.escalate_after,
        "reason": row.reason,
        "boot_device": row.boot_device,
        "boot_persistent": bool(row.boot_persistent),
        "not_before": iso(row.not_before),
    }


def request_power(
    connection: Connection, ref: str | int, kind: str, requested_by: str, now: datetime,
    *, escalate_after: float | None = None, reason: str | None = None, not_before: datetime | None = None,
    boot_device: str | None = None, boot_persistent: bool | None = None, power_types: PowerTypes = POWER_TYPES,
) -> tuple[dict[str, Any], bool]:
    """
    Commit one power intent for node ``ref``.

    :param escalate_after: for a ``soft_off``, the seconds it waits for the
        graceful shutdown before a hard off (``None``: it never escalates).
    :param reason: why it is asked for: 1 to 500 characters, one line; kept
        with the action and said in its ``power_requested`` event.
    :param boot_device: for an ``on`` or ``cycle``, the boot device its
        cluster sets before the power command (:func:`check_boot`); part of
        the intent, as its kind is.
    :param boot_persistent: with ``boot_device``: for every boot, not the next only.
    :param power_types: the power types the region knows, which say whether
        the node's can set a boot device.
    :param not_before: the time before which the action is not handed to
        its cluster (:mod:`pserv.region.store.schedules`); ``None`` or a
        time past: now.
    :return: the action, and whether it is new (``False`` for a duplicate).
    :raises NotFound: no such node.
    :raises Conflict: the node is being deleted, or is locked and ``kind``
        switches it off (:mod:`pserv.region.store.locks`).
    :raises Invalid: ``escalate_after`` for another kind than ``soft_off``,
        a bad ``reason``, ``not_before`` too far ahead, or a bad boot device
        (:func:`check_boot`).
    :raises Conflict: a boot device the node's power type cannot set.
    """
    node = lock_for_intent(connection, ref)
    kind = ActionKind(kind)
    boot = check_boot(kind, boot_device, boot_persistent, [node], power_types)
    return request_intent(connection, node, kind, requested_by, now,
                          escalate_after=escalate_after, reason=reason, boot=boot, not_before=not_before)


def request_bulk(
    connection: Connection,
    refs: Iterable[str | int] | None,
    filters: Mapping[str, str] | None,
    kind: str,
    requested_by: str,
    now: datetime,
    *,
    escalate_after: float | None = None,
    reason: str | None = None,
    boot_device: str | None = None,
    boot_persistent: bool | None = None,
    power_types: PowerTypes = POWER_TYPES,
    not_before: datetime | None = None,
) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """
    One intent for many nodes, all or nothing: any missing or deleting node
    refuses the whole request.  A locked node refuses an ``off``, a
    ``cycle`` or a ``soft_off``: the request is made for the others, and
    the locked ones are named; if every node is locked, nothing is done.
    The actions (new, or the outstanding ones a node's request duplicates)
    are remembered as one batch.  Each node's request is as
    :func:`request_intent` makes it, all in a few statements
    (:mod:`pserv.region.store.bulk_intent`).

    :param escalate_after: as for :func:`request_power`.
    :param reason: as for :func:`request_power`; the batch keeps it too.
    :param boot_device: as for :func:`request_power`; every node's power
        type must be able to set it, or the whole request is refused.
    :param boot_persistent: as for :func:`request_power`.
    :param not_before: as for :func:`request_power`.
    :return: the batch's id, the actions in node id order, and the locked
        nodes left alone (:func:`~pserv.region.store.locks.lock_json`), in id order.
    :raises Conflict: naming ``action``, when every node is locked.
    """
    from pserv.region.store.bulk_intent import request_intents  # (it imports this module)

    check_reason(reason)
    nodes = bulk_nodes(connection, refs, filters, lock=True)
    boot = check_boot(ActionKind(kind), boot_device, boot_persistent, nodes, power_types)
    locked = [node for node in nodes if locks.refuses(node, ActionKind(kind))]
    if len(locked) == len(nodes):
        raise Conflict(f"every node named is locked: {locks.locked_message(locked[0])}"
                       + (f" (and {len(locked) - 1} more)" if len(locked) > 1 else ""), "action")
    free = [node for node in nodes if not locks.refuses(node, ActionKind(kind))]
    actions = request_intents(connection, free, ActionKind(kind), requested_by, now,
                              escalate_after=escalate_after, reason=reason, boot=boot, not_before=not_before)
    batch = record_batch(connection, kind, requested_by, reason, now, [a["id"] for a in actions])
    return batch, actions, [locks.lock_json(node) for node in locked]


def enrol_node(
    connection: Connection, body: Mapping[str, Any], now: datetime, *, power_types: PowerTypes = POWER_TYPES
) -> tuple[dict[str, Any], int | None]:
    """
    Create a node and, if it has a cluster, a ``query`` action so that its
    cluster learns of it and the region sees its power at once.

    :param power_types: the power types the node may have.
    :return: the node, and the query action's id (``None`` without a cluster).
    """
    node = create_node(connection, body, now, power_types=power_types)
    return node, _read_power(connection, node, now)


def change_node(
    connection: Connection, ref: str | int, body: Mapping[str, Any], now: datetime,
    *, power_types: PowerTypes = POWER_TYPES, expected_version: int | None = None,
) -> tuple[dict[str, Any], int | None]:
    """
    Update a node; when its cluster or power settings change, request a
    ``query`` so that the (new) cluster learns the node's settings.

    :param power_types: the power types the node may have.
    :param expected_version: as for :func:`~pserv.region.store.nodes.update_node`.
    :return: the node, and the query action's id, if one was made.
    """
    node = update_node(connection, ref, body, now, power_types=power_types, expected_version=expected_version)
    if not READ_AFTER_CHANGE.intersection(body):
        return node, None
    return node, _read_power(connection, node, now)


def hand_over(connection: Connection, node_id: int, cluster: str, now: datetime) -> list[int]:
    """
    ``cluster`` has given up the node ``node_id`` (:func:`pserv.region.store.moves.released`):
    the actions to hand to its new cluster.  If none is pending (a request
    made during the move may have timed out waiting), a ``query``, so that
    the new cluster learns of the node and reads it, as at enrolment.
    """
    pending = moves.released(connection, node_id, cluster, now)
    if pending:
        return pending
    node = find(connection, node_id)
    if node.cluster is None or node.moving_from is not None or node.lifecycle == "deleting":
        return []
    read = _read_power(connection, {"id": node.id, "cluster": node.cluster}, now, "hand-over")
    return [] if read is None else [read]


def _read_power(connection: Connection, node: Mapping[str, Any], now: datetime, by: str = "enrolment") -> int | None:
    if node["cluster"] is None:
        return None
    action, created = request_intent(connection, find(connection, node["id"], lock=True), ActionKind.QUERY, by, now)
    return action["id"] if created else None


def get_action(connection: Connection, action_id: int) -> dict[str, Any]:
    """The action ``action_id``."""
    return action_json(_find(connection, action_id))


def list_actions(connection: Connection, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The actions ``ids`` that exist, in id order (an id named twice, once)."""
    table = schema.power_actions
    wanted = sorted({i for i in ids if 0 < i <= MAX_ID})
    if not wanted:
        return []
    query = select(table).where(table.c.id.in_(wanted)).order_by(table.c.id)
    return [action_json(row) for row in connection.execute(query).all()]


def list_node_actions(
    connection: Connection, ref: str | int, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a node's actions, newest first."""
    node = find(connection, ref)
    table = schema.power_actions
    query = select(table).where(table.c.node_id == node.id).order_by(table.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(table.c.id < before)
    return page(connection.execute(query).all(), limit, action_json)


def cancel_action(connection: Connection, action_id: int, by: str, now: datetime) -> tuple[dict[str, Any], bool]:
    """
    An operator's cancel, which withdraws the request.  A pending action is
    cancelled at once; one in flight is asked to stop (its cluster stops it
    at the next safe point).  Once it has ended without being done, the
    node's desired state goes back to what it was before that request,
    unless a newer request has been made since
    (:func:`~pserv.region.store.intent.settle_intent`).

    :return: the action, and whether it is already cancelled.
    :raises Conflict: the action has already ended.
    """
    node = find(connection, _find(connection, action_id).node_id, lock=True)
    row = _find(connection, action_id, lock=True)
    if ActionStatus(row.status).final:
        raise Conflict(f"action {action_id} has already ended: {row.status}", "action")
    if row.status == ActionStatus.PENDING:
        move_one(connection, row.id, ActionStatus.CANCELLED, now, cancel_requested=True)
        add_event(connection, now, "action_cancelled", f"{row.kind} action {row.id} cancelled by {by}", node, row.id)
        settle_intent(connection, node, row, now)
        return get_action(connection, action_id), True
    connection.execute(
        update(schema.power_actions).where(schema.power_actions.c.id == row.id).values(cancel_requested=True)
    )
    add_event(connection, now, "cancel_requested", f"{row.kind} action {row.id}: cancel requested by {by}", node, row.id)
    return get_action(connection, action_id), False


def expire_stuck(connection: Connection, now: datetime, timeout: float) -> list[int]:
    """
    Time out every action left ``pending`` or ``sent`` for over ``timeout``
    seconds, counted from its time for a scheduled one.  A pending one was never handed to a cluster, so it fails
    with the reason ``timed out``; a sent one becomes ``timed_out``, for
    its cluster may still hold it: it takes the outcome that comes, and
    recovery still hands it over.  Runs once across regions
    (:data:`~pserv.region.store.leadership.SWEEP_LOCK`): another region's
    sweep in progress makes this one do nothing.

    :return: the ids of the actions timed out, in order.
    """
    if not once(connection, SWEEP_LOCK):
        return []
    table = schema.power_actions
    cutoff = utc(now) - timedelta(seconds=timeout)
    stuck = {row.id: row for row in connection.execute(
        select(table).where(table.c.status.in_(values(UNSTARTED)), counted_from() < cutoff)
    ).all()}
    never_sent = [i for i, row in stuck.items() if row.status == ActionStatus.PENDING]
    failed = move(connection, never_sent, ActionStatus.FAILED, now, only_from={ActionStatus.PENDING},
                  error="timed out")
    held = move(connection, [i for i in stuck if i not in never_sent], ActionStatus.TIMED_OUT, now,
                only_from={ActionStatus.SENT})
    for action_id in sorted(failed + held):
        row = stuck[action_id]
        kind = "action_failed" if action_id in failed else "action_timed_out"
        outcome = "never handed to a cluster" if action_id in failed else "its cluster may still carry it out"
        add_event(
            connection, now, kind,
            f"{row.kind} action {row.id} timed out after {timeout:g}s {row.status}: {outcome}",
            find(connection, row.node_id), row.id,
        )
    return sorted(failed + held)


def request_intent(
    connection: Connection, node: Row, kind: ActionKind, requested_by: str, now: datetime,
    *, escalate_after: float | None = None, reason: str | None = None, boot: BootSetting | None = None,
    not_before: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """
    Commit one power intent for the locked ``node`` row; see
    :func:`request_power`.  A request duplicates the newest outstanding
    action only if it asks the same, escalation, boot setting and time
    included (whatever its reason): one naming another boot device
    supersedes it, and a request for now does not join one held for
    later, nor one for later one for now.

    :param boot: the boot setting :func:`check_boot` made of the request.
    """
    check_reason(reason)
    not_before = schedule(not_before, now)
    if escalate_after is not None and kind is not ActionKind.SOFT_OFF:
        raise Invalid("escalate_after: only for soft_off", "escalate_after")
    if node.lifecycle == "deleting":
        raise Conflict(f"node {node.name} is being deleted", "node")
    refuse_if_locked(node, kind)
    newest = connection.execute(_NEWEST_OUTSTANDING, {"node": node.id}).first()
    if newest is not None and same_request(newest, kind, escalate_after, boot, not_before, now):
        add_event(
            connection, now, "power_coalesced",
            f"{kind.value} requested by {requested_by}: same as action {newest.id}", node, newest.id,
        )
        return get_action(connection, newest.id), False
    generation = node.generation
    if kind.changes_power:
        generation += 1
        connection.execute(_SET_INTENT, {"node": node.id, "desired": kind.target.value, "to": generation,
                                         "at": utc(now)})
    action = connection.execute(_INSERT_ACTION, {
        "node_id": node.id, "kind": kind.value, "generation": generation, "status": ActionStatus.PENDING.value,
        "requested_by": requested_by, "requested_at": utc(now), "cancel_requested": False,
        "desired_before": node.desired_power_state if kind.changes_power else None,
        "escalate_after": escalate_after, "reason": reason, "not_before": not_before,
        "boot_device": boot_columns(boot)[0], "boot_persistent": boot_columns(boot)[1],
    }).one()
    said = requested_message(kind.value, requested_by, reason, boot, not_before)
    events = [event_row(now, "power_requested", said, node, action.id)]
    if kind.changes_power and newest is not None:
        events += _supersede_pending(connection, node, action.id, now)
    add_events(connection, events)
    return action_json(action), True


_ACTIONS = schema.power_actions

_NEWEST_OUTSTANDING = (
    select(_ACTIONS.c.id, _ACTIONS.c.kind, _ACTIONS.c.escalate_after, _ACTIONS.c.boot_device,
           _ACTIONS.c.boot_persistent, _ACTIONS.c.not_before)
    .where(_ACTIONS.c.node_id == bindparam("node"), _ACTIONS.c.status.in_(constants(values(DUPLICABLE))))
    .order_by(_ACTIONS.c.id.desc()).limit(1)
)
"""The newest action a request for node ``node`` may duplicate; none, and
no older action is pending either (``pending`` is among them)."""

_SET_INTENT = update(schema.nodes).where(schema.nodes.c.id == bindparam("node")).values(
    desired_power_state=bindparam("desired"), generation=bindparam("to"), updated_at=bindparam("at"),
)

_INSERT_ACTION = insert(_ACTIONS).returning(*_ACTIONS.c)

_SUPERSEDE = moving(
    ActionStatus.SUPERSEDED,
    _ACTIONS.c.node_id == bindparam("node"), _ACTIONS.c.kind != ActionKind.QUERY.value,
    _ACTIONS.c.id != bindparam("newer"),
    only_from={ActionStatus.PENDING}, returning=(_ACTIONS.c.id, _ACTIONS.c.kind), superseded_by=bindparam("newer"),
)
"""Mark node ``node``'s pending power actions other than ``newer`` superseded by it.
(The statements of every power request are built once, not at each request.)"""


def check_reason(reason: Any) -> None:
    """
    Refuse a reason that is not 1 to :data:`MAX_REASON` characters of one
    line (no control character), as the API's document does.

    :raises Invalid: naming ``reason``.
    """
    if reason is not None and (
        not isinstance(reason, str) or not 0 < len(reason) <= MAX_REASON or not re.fullmatch(REASON_PATTERN, reason)
    ):
        raise Invalid(f"reason: must be 1 to {MAX_REASON} characters, one line, no control characters", "reason")


def check_boot(
    kind: ActionKind, device: Any, persistent: Any, nodes: Iterable[Any], power_types: PowerTypes,
) -> BootSetting | None:
    """
    The boot setting a request names, refused unless it is one the nodes'
    power types can set, for a kind that boots (``on``, ``cycle``).

    :param nodes: the nodes' rows (their ``power_type``).
    :raises Invalid: naming ``boot_device`` or ``boot_persistent``: a
        request that is wrong whatever the node.
    :raises Conflict: naming ``boot_device``, for a node whose power type
        cannot set one (SNMP PDU, Wake-on-LAN, manual): a well-formed
        request that this node's settings refuse, as a deleting node does.
    """
    if device is None:
        if persistent is not None:
            raise Invalid("boot_persistent: only with boot_device", "boot_persistent")
        return None
    if kind not in BOOT_KINDS:
        raise Invalid(f"boot_device: only for on or cycle, not {kind.value}", "boot_device")
    try:
        setting = BootSetting(BootDevice(device), bool(persistent))
    except ValueError:
        raise Invalid("boot_device: must be one of " + ", ".join(d.value for d in BootDevice), "boot_device") from None
    if persistent is not None and not isinstance(persistent, bool):
        raise Invalid("boot_persistent: must be true or false", "boot_persistent")
    for node in nodes:
        power_type = power_types.get(node.power_type)
        if power_type is None or not power_type.can_set_boot:
            raise Conflict(f"boot_device: power type {node.power_type} cannot set a boot device "
                           f"(node {node.name})", "boot_device")
    return setting


def boot_columns(boot: BootSetting | None) -> tuple[str | None, bool]:
    """A boot setting as an action's ``boot_device`` and ``boot_persistent`` hold it."""
    return (None, False) if boot is None else (boot.device.value, boot.persistent)


def same_request(
    row: Row, kind: ActionKind, escalate_after: float | None, boot: BootSetting | None, not_before: datetime | None,
    now: datetime,
) -> bool:
    """
    Whether the outstanding action ``row`` asks what a request does: kind,
    escalation, boot setting and time (held or not).
    """
    asks = (row.kind, row.escalate_after, row.boot_device, bool(row.boot_persistent), held(row, now))
    return asks == (kind.value, escalate_after, *boot_columns(boot), not_before)


def requested_message(kind: str, requested_by: str, reason: str | None, boot: BootSetting | None = None,
                      not_before: datetime | None = None) -> str:
    """
    A ``power_requested`` event's message: ``on requested by alice``, and
    with a reason ``on requested by alice: rack move`` (its spaces run
    together, so the message stays one line of one shape); with a boot
    device, ``cycle requested by alice, boot device pxe (next boot only)``;
    a scheduled one says ``on requested by alice, not before
    2026-11-22T12:00:00.000Z``.
    """
    said = " ".join((reason or "").split())
    booting = f", boot device {boot}" if boot is not None else ""
    when = f", not before {iso(not_before)}" if not_before is not None else ""
    return f"{kind} requested by {requested_by}{booting}{when}" + (f": {said}" if said else "")


def _supersede_pending(connection: Connection, node: Row, newer: int, now: datetime) -> list[dict[str, Any]]:
    """Mark the node's older pending power actions superseded; their events."""
    return [
        event_row(now, "action_superseded", f"{row.kind} action {row.id} superseded by {newer}", node, row.id)
        for row in move_by(connection, _SUPERSEDE, now, node=node.id, newer=newer)
    ]


def _find(connection: Connection, action_id: int, lock: bool = False) -> Row:
    table = schema.power_actions
    query = select(table).where(table.c.id == action_id if action_id <= MAX_ID else false())
    return one_row(connection, query, f"no action {action_id}", "action", lock)
