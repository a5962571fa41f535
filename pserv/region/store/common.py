"""
Small helpers the store modules share.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence, TypeVar

from sqlalchemy import ColumnElement, Select, Table, insert, literal_column
from sqlalchemy.engine import Connection, Row

from pserv.region import schema
from pserv.region.errors import NotFound
from pserv.util.times import iso_from_moment

T = TypeVar("T")


def iso(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with ``Z``."""
    return None if moment is None else iso_from_moment(moment)


def utc(moment: datetime) -> datetime:
    """A time as the store keeps it: naive UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


MAX_ID = 2**31 - 1
"""The largest id a row can have: the id columns are SQL ``INTEGER``, 32
bits in PostgreSQL (SQLite's are wider); a larger one names nothing, and
is never sent to the database, which would refuse it as out of range."""


CHUNK = 500
"""The most values a set-based statement puts in one ``IN`` list: well
under SQLite's limit of bound variables (32,766), with room for the
statement's others."""


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most :data:`CHUNK`, in order (none if empty)."""
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def one_row(connection: Connection, query: Select[Any], missing: str, field: str, lock: bool = False) -> Row[Any]:
    """
    The one row ``query`` selects, locked for update if ``lock``.

    :raises NotFound: saying ``missing``, naming ``field``, when there is none.
    """
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(missing, field)
    return row


def page(rows: Sequence[Any], limit: int, render: Any) -> tuple[list[dict[str, Any]], int | None]:
    """
    Rendered rows of one page, and the cursor for the next page (the last
    id) when more rows exist; the query asked for ``limit + 1`` rows.
    """
    items = [render(row) for row in rows[:limit]]
    more = len(rows) > limit
    return items, (rows[limit - 1].id if more else None)


def event_row(
    at: datetime, kind: str, message: str, node: Any = None, action_id: int | None = None
) -> dict[str, Any]:
    """
    One event of the audit log, as a row to insert.  ``message`` must hold
    no secret.
    """
    return {
        "at": utc(at),
        "kind": kind,
        "message": message,
        "node_id": getattr(node, "id", None),
        "node_name": getattr(node, "name", None),
        "action_id": action_id,
    }


_ADD_EVENTS = insert(schema.events)
"""Built once: a statement made anew is coerced and keyed for the cache at every execution."""


def add_events(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Append events to the audit log in one statement."""
    if rows:
        connection.execute(_ADD_EVENTS, rows)


def constants(names: Sequence[str]) -> list[ColumnElement[Any]]:
    """
    ``names`` (statuses, kinds: letters and ``_``) as SQL string literals,
    for an ``IN`` written into a statement built once, not bound anew
    (an expanding bind parameter is rendered again at every execution).
    """
    for name in names:
        if not _WORD.fullmatch(name):
            raise ValueError(f"not a constant: {name!r}")
    return [literal_column(f"'{name}'") for name in names]


_WORD = re.compile(r"[a-z_]+")


def add_event(
    connection: Connection,
    at: datetime,
    kind: str,
    message: str,
    node: Any = None,
    action_id: int | None = None,
) -> None:
    """
    Append one event to the audit log.  ``message`` must hold no secret.
    """
    add_events(connection, [event_row(at, kind, message, node, action_id)])


def insert_returning_id(connection: Connection, table: Table, **values: Any) -> int:
    """Insert one row and return its id."""
    result = connection.execute(insert(table).values(**values))
    return int(result.inserted_primary_key[0])
