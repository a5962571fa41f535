"""
The audit log: every request, outcome and observed change, append only;
read oldest or newest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Row

from pserv.region import schema
from pserv.region.store.common import iso, page, utc
from pserv.region.store.nodes import find


def event_json(row: Row) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": row.id,
        "at": iso(row.at),
        "node": row.node_id,
        "node_name": row.node_name,
        "action": row.action_id,
        "kind": row.kind,
        "message": row.message,
    }


def list_events(
    connection: Connection,
    node: str | None,
    since: datetime | None,
    limit: int,
    after: int | None,
    *,
    before: int | None = None,
    order: str = "asc",
) -> tuple[list[dict[str, Any]], int | None]:
    """
    A page of events, oldest first (``order="desc"``: newest first);
    ``node`` (id or name) and ``since`` narrow it, ``after`` and ``before``
    bound the ids (a page of ``asc`` continues with ``after``, of ``desc``
    with ``before``, the cursor returned).
    """
    table = schema.events
    key = table.c.id.desc() if order == "desc" else table.c.id
    query = select(table).order_by(key).limit(limit + 1)
    if node is not None:
        query = query.where(table.c.node_id == find(connection, node).id)
    if since is not None:
        query = query.where(table.c.at >= utc(since))
    if after is not None:
        query = query.where(table.c.id > after)
    if before is not None:
        query = query.where(table.c.id < before)
    return page(connection.execute(query).all(), limit, event_json)


def newest_event_id(connection: Connection) -> int:
    """The largest event id stored, or 0 when the log is empty."""
    return connection.execute(select(func.max(schema.events.c.id))).scalar() or 0


def events_after(
    connection: Connection,
    after: int,
    limit: int,
    *,
    through: int | None = None,
    node: int | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """
    Up to ``limit`` events with an id above ``after`` (and at most
    ``through``), oldest first, as the API shows them; ``node`` (an id)
    and ``since`` narrow them.  The event stream's feed and backlog read
    the log with it.
    """
    table = schema.events
    query = select(table).where(table.c.id > after).order_by(table.c.id).limit(limit)
    if through is not None:
        query = query.where(table.c.id <= through)
    if node is not None:
        query = query.where(table.c.node_id == node)
    if since is not None:
        query = query.where(table.c.at >= utc(since))
    return [event_json(row) for row in connection.execute(query)]


def node_id(connection: Connection, node: str) -> int:
    """
    The id of the node ``node`` names (its id or its name), for a filter.

    :raises NotFound: when there is none.
    """
    return find(connection, node).id
