"""
Bulk power: the nodes a bulk request names, what it would change (a dry
run, which writes nothing), and the batch a real one is remembered as,
with how its actions stand.

A batch is recorded in the transaction that makes its actions
(:func:`pserv.region.store.actions.request_bulk`), so there is never a
batch without its actions, nor the actions without their batch.  When a
node is deleted its actions go, and with them their rows of the batch:
the batch keeps its ``size``, and counts only the actions still there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import false, func, insert, select
from sqlalchemy.engine import Connection, Row

from pserv.power.states import FINAL, ActionKind, ActionStatus
from pserv.region import schema
from pserv.region.errors import Conflict, NotFound
from pserv.region.store.common import MAX_ID, insert_returning_id, iso, one_row, utc
from pserv.region.store.locks import refuses
from pserv.region.store.nodes import find_ids, find_rows, node_filter

COUNTED = ("pending", "running", "done", "failed", "superseded", "cancelled", "timed_out")
"""The counts a batch shows, in this order; ``running`` counts every action
in flight but timed out (``sent`` and ``running``)."""

_COUNTED_AS = {ActionStatus.SENT.value: "running"}


def bulk_nodes(
    connection: Connection, refs: Iterable[str | int] | None, filters: Mapping[str, str] | None,
    *, lock: bool = False,
) -> list[Row]:
    """
    The nodes of a bulk request, in id order: those ``refs`` name (ids or
    names), else those matching ``filters``; locked for update if ``lock``
    (in id order, as every transaction that locks several nodes takes
    them).  A few statements, however many nodes.

    :raises NotFound: a node named is missing, or no node matches (``filter``).
    :raises Conflict: a node is being deleted: the whole request is refused.
    """
    if refs is not None:
        nodes = find_rows(connection, find_ids(connection, refs), lock=lock)
    else:
        query = select(schema.nodes).where(*node_filter(filters or {})).order_by(schema.nodes.c.id)
        nodes = connection.execute(query.with_for_update() if lock else query).all()
    if not nodes:
        raise NotFound("filter: no node matches", "filter")
    deleting = next((node for node in nodes if node.lifecycle == "deleting"), None)
    if deleting is not None:
        raise Conflict(f"node {deleting.name} is being deleted", "node")
    return nodes


def bulk_preview(
    connection: Connection, refs: Iterable[str | int] | None, filters: Mapping[str, str] | None, kind: str,
) -> dict[str, Any]:
    """
    What the bulk request would change, writing nothing: how many nodes it
    names, how many are already in the action's target state (last
    observed), how many are not, and how many are locked against it
    (:mod:`pserv.region.store.locks`: left alone, counted in neither).  A
    ``cycle`` changes every node not locked, a ``query`` none.  It refuses what the request would refuse
    (:func:`bulk_nodes`).
    """
    action = ActionKind(kind)
    named = bulk_nodes(connection, refs, filters)
    nodes = [node for node in named if not refuses(node, action)]
    if action is ActionKind.QUERY:
        unchanged = len(nodes)
    elif action is ActionKind.CYCLE:
        unchanged = 0
    else:
        unchanged = sum(1 for node in nodes if node.power_state == action.target.value)
    return {"dry_run": True, "action": action.value, "nodes": len(named),
            "change": len(nodes) - unchanged, "unchanged": unchanged, "locked": len(named) - len(nodes)}


def bulk_names(
    connection: Connection, refs: Iterable[int] | None, filters: Mapping[str, str] | None, limit: int = 20,
) -> list[str]:
    """
    The names of the first ``limit`` nodes (in id order) of a bulk request
    by node ids ``refs``, else by ``filters``: for a person to see which
    nodes a preview is about.  Ids of no node are left out.
    """
    table = schema.nodes
    if refs is not None:
        wanted = [i for i in refs if 0 < i <= MAX_ID]
        condition = [table.c.id.in_(wanted)] if wanted else [false()]
    else:
        condition = node_filter(filters or {})
    return list(connection.execute(select(table.c.name).where(*condition).order_by(table.c.id).limit(limit)).scalars())


def record_batch(
    connection: Connection, kind: str, requested_by: str, reason: str | None, now: datetime,
    action_ids: Iterable[int],
) -> int:
    """Remember a bulk request and its actions; the new batch's id."""
    ids = sorted(set(action_ids))
    batch_id = insert_returning_id(
        connection, schema.power_batches,
        created_at=utc(now), requested_by=requested_by, kind=kind, reason=reason, size=len(ids),
    )
    if ids:
        connection.execute(insert(schema.power_batch_actions),
                           [{"batch_id": batch_id, "action_id": action_id} for action_id in ids])
    return batch_id


def get_batch(connection: Connection, batch_id: int) -> dict[str, Any]:
    """
    The batch ``batch_id``, with how many of its actions are in each
    status, and whether every one is final.

    :raises NotFound: no such batch.
    """
    table = schema.power_batches
    row = one_row(connection, select(table).where(table.c.id == batch_id if batch_id <= MAX_ID else false()),
                  f"no batch {batch_id}", "batch")
    return _batch_json(row, _statuses(connection, row.id))


def batch_actions(connection: Connection, batch_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """
    The first ``limit`` actions of the batch ``batch_id``, in their nodes'
    id order (as the request made them), each as the API shows an
    action with its node's ``node_name``, and ``coalesced``: whether it is
    an action already in play that this request joined (asked before it,
    or by someone else) rather than one it made.
    """
    from pserv.region.store.actions import action_json  # (actions imports this module)

    links, actions, nodes, batches = (schema.power_batch_actions, schema.power_actions, schema.nodes,
                                      schema.power_batches)
    query = (
        select(actions, nodes.c.name.label("node_name"), batches.c.created_at.label("batch_at"),
               batches.c.requested_by.label("batch_by"))
        .select_from(links.join(actions, actions.c.id == links.c.action_id)
                     .join(nodes, nodes.c.id == actions.c.node_id)
                     .join(batches, batches.c.id == links.c.batch_id))
        .where(links.c.batch_id == batch_id if batch_id <= MAX_ID else false())
        .order_by(actions.c.node_id, actions.c.id)
        .limit(limit)
    )
    return [
        {**action_json(row), "node_name": row.node_name,
         "coalesced": row.requested_at != row.batch_at or row.requested_by != row.batch_by}
        for row in connection.execute(query).all()
    ]


def _statuses(connection: Connection, batch_id: int) -> dict[str, int]:
    links, actions = schema.power_batch_actions, schema.power_actions
    query = (
        select(actions.c.status, func.count())
        .select_from(links.join(actions, actions.c.id == links.c.action_id))
        .where(links.c.batch_id == batch_id)
        .group_by(actions.c.status)
    )
    return {status: count for status, count in connection.execute(query).all()}


def _batch_json(row: Row, statuses: Mapping[str, int]) -> dict[str, Any]:
    counts = dict.fromkeys(COUNTED, 0)
    for status, count in statuses.items():
        counts[_COUNTED_AS.get(status, status)] += count
    return {
        "id": row.id,
        "action": row.kind,
        "requested_by": row.requested_by,
        "reason": row.reason,
        "created_at": iso(row.created_at),
        "size": row.size,
        "counts": counts,
        "finished": all(ActionStatus(status) in FINAL for status in statuses),
    }
