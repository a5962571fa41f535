"""
Node locks: an operator locks a node (saying why) so that nothing switches
it off until an operator unlocks it.

A locked node refuses every new ``off``, ``cycle`` and ``soft_off``, from
the API, the UI, a bulk request (which acts on the other nodes and names
the locked ones) and drift enforcement (which holds back, with an event);
``on`` and ``query`` still work.  The lock protects from new requests: a
node with an off, cycle or soft_off still outstanding refuses to be locked
(409 naming that action), so that a lock taken never has an off behind it.
Locking a locked node is refused too (409): unlock it first, so that each
lock and its reason are one event.  Both are recorded as events
(``node_locked``, ``node_unlocked``) naming who and why.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from pserv.power.states import OUTSTANDING, ActionKind, values
from pserv.region import schema
from pserv.region.errors import Conflict, Invalid
from pserv.region.store.common import add_event, utc
from pserv.region.store.nodes import find, node_json

MAX_LOCK_REASON = 200
"""The longest reason a lock may give, in characters."""

SWITCHING_OFF = frozenset({ActionKind.OFF, ActionKind.CYCLE, ActionKind.SOFT_OFF})
"""The kinds a locked node refuses: each switches the node off, if only for a while."""


def lock_node(connection: Connection, ref: str | int, by: str, reason: Any, now: datetime) -> dict[str, Any]:
    """
    Lock node ``ref`` for ``by``, who says why.

    :raises Invalid: naming ``reason``: not 1 to 200 characters of one line.
    :raises Conflict: the node is locked already, or has an off, a cycle or
        a soft_off outstanding (named).
    """
    check_lock_reason(reason)
    node = find(connection, ref, lock=True)
    if node.locked:
        raise Conflict(f"node {node.name} is already locked by {node.locked_by}: {node.lock_reason}", "node")
    actions = schema.power_actions
    pending = connection.execute(
        select(actions.c.id, actions.c.kind).where(
            actions.c.node_id == node.id, actions.c.kind.in_(sorted(k.value for k in SWITCHING_OFF)),
            actions.c.status.in_(values(OUTSTANDING)),
        ).order_by(actions.c.id).limit(1)
    ).first()
    if pending is not None:
        raise Conflict(f"node {node.name} has {pending.kind} action {pending.id} outstanding: cancel it or let "
                       "it end before locking the node", "node")
    _set_lock(connection, node.id, now, locked=True, locked_by=by, lock_reason=reason, locked_at=utc(now))
    add_event(connection, now, "node_locked", f"node {node.name} locked by {by}: {reason}", node)
    return node_json(find(connection, node.id))


def unlock_node(connection: Connection, ref: str | int, by: str, now: datetime) -> dict[str, Any]:
    """
    Unlock node ``ref``, by ``by``.

    :raises Conflict: the node is not locked.
    """
    node = find(connection, ref, lock=True)
    if not node.locked:
        raise Conflict(f"node {node.name} is not locked", "node")
    _set_lock(connection, node.id, now, locked=False, locked_by=None, lock_reason=None, locked_at=None)
    add_event(connection, now, "node_unlocked",
              f"node {node.name} unlocked by {by} (locked by {node.locked_by}: {node.lock_reason})", node)
    return node_json(find(connection, node.id))


def check_lock_reason(reason: Any) -> None:
    """
    Refuse a lock's reason that is not 1 to :data:`MAX_LOCK_REASON`
    characters of one line (no control character).

    :raises Invalid: naming ``reason``.
    """
    from pserv.region.store.actions import REASON_PATTERN  # (it imports this module)

    if not isinstance(reason, str) or not 0 < len(reason) <= MAX_LOCK_REASON or not re.fullmatch(
        REASON_PATTERN, reason
    ):
        raise Invalid(f"reason: must be 1 to {MAX_LOCK_REASON} characters, one line, no control characters",
                      "reason")


def refuses(node: Any, kind: ActionKind) -> bool:
    """Whether the ``node`` row refuses ``kind``: it is locked, and ``kind`` switches it off."""
    return bool(node.locked) and kind in SWITCHING_OFF


def refuse_if_locked(node: Any, kind: ActionKind) -> None:
    """
    Refuse ``kind`` for the ``node`` row if it is locked and ``kind``
    switches it off.

    :raises Conflict: naming ``action``, with who locked it and why.
    """
    if refuses(node, kind):
        raise Conflict(locked_message(node), "action")


def lock_json(node: Any) -> dict[str, Any]:
    """A locked node as a bulk request's answer names it: ``{"node", "name", "locked_by", "lock_reason"}``."""
    return {"node": node.id, "name": node.name, "locked_by": node.locked_by, "lock_reason": node.lock_reason}


def locked_message(node: Any) -> str:
    """``node X is locked by alice: why``, as a refusal says it."""
    return f"node {node.name} is locked by {node.locked_by}: {node.lock_reason}"


def _set_lock(connection: Connection, node_id: int, now: datetime, **values: Any) -> None:
    nodes = schema.nodes
    connection.execute(update(nodes).where(nodes.c.id == node_id).values(updated_at=utc(now), **values))
