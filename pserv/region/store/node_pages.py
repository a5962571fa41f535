"""
What the UI's node pages show, read in a few queries each: a page of
nodes (filtered by :func:`~pserv.region.store.nodes.node_filter`, sorted,
by offset) with its total, and of just those nodes the action in play and
the last failure; one node with its actions and events.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection, Row

from pserv.power.states import FINAL, OUTSTANDING, ActionStatus, values
from pserv.region import schema
from pserv.region.errors import Invalid
from pserv.region.store.actions import action_json, list_node_actions
from pserv.region.store.common import MAX_ID
from pserv.region.store.events import event_json
from pserv.region.store.nodes import find, node_filter, node_json

PAGE_SIZE = 50
"""Nodes on one page of the list."""

SORTS = ("name", "cluster", "power_type", "power_state", "desired_power_state", "observed")
"""What the list sorts by; ``observed`` is when the power state was last read."""



def nodes_view(
    connection: Connection, filters: Mapping[str, str], sort: str = "name", descending: bool = False,
    page: int = 1, size: int = PAGE_SIZE,
) -> dict[str, Any]:
    """
    One page of the nodes matching ``filters``, sorted by ``sort`` (one of
    :data:`SORTS`), ties by name.  A page past the last is the last.

    :return: ``nodes`` (:func:`node_rows`' shape), ``total`` (how many
        match), ``page``, ``pages``, ``size``, and ``clusters`` (every
        cluster name known, for the filter).
    :raises Invalid: for an unknown ``sort``.
    """
    nodes = schema.nodes
    conditions = node_filter(filters)
    total = connection.execute(select(func.count()).select_from(nodes).where(*conditions)).scalar_one()
    pages = max(1, math.ceil(total / size))
    page = min(max(1, page), pages)
    query = (
        select(nodes).where(*conditions).order_by(*_order(sort, descending))
        .offset((page - 1) * size).limit(size)
    )
    items = _with_actions(connection, connection.execute(query).all())
    return {"nodes": items, "total": total, "page": page, "pages": pages, "size": size,
            "clusters": cluster_names(connection)}


def node_rows(connection: Connection, ids: Iterable[int]) -> list[dict[str, Any]]:
    """
    The nodes ``ids`` (in that order; ids of no node left out), each as a
    node's JSON with ``action`` (the newest outstanding action, with its
    ``progress``, or ``None``), ``queued`` (how many more are outstanding)
    and ``last_failure`` (the newest ended action, if it failed).
    """
    wanted = [i for i in dict.fromkeys(ids) if 0 < i <= MAX_ID]
    if not wanted:
        return []
    rows = {r.id: r for r in connection.execute(select(schema.nodes).where(schema.nodes.c.id.in_(wanted))).all()}
    return _with_actions(connection, [rows[i] for i in wanted if i in rows])


def cluster_names(connection: Connection) -> list[str]:
    """Every cluster registered or named by a node, sorted."""
    named = connection.execute(select(schema.nodes.c.cluster).distinct()).scalars().all()
    registered = connection.execute(select(schema.clusters.c.name)).scalars().all()
    return sorted({*named, *registered} - {None})


def node_view(
    connection: Connection, ref: str | int, limit: int = 20,
    actions_before: int | None = None, events_before: int | None = None,
) -> dict[str, Any]:
    """
    The node ``ref`` (:func:`node_rows`' shape) with a page of its actions
    and a page of its events, each newest first, and each page's cursor
    (``actions_next``, ``events_next``: the id to continue before).

    :raises NotFound: if there is no such node.
    """
    row = find(connection, ref)
    [node] = _with_actions(connection, [row])
    actions, actions_next = list_node_actions(connection, row.id, limit, actions_before)
    events, events_next = node_events(connection, row.id, limit, events_before)
    return {"node": node, "actions": actions, "actions_next": actions_next,
            "events": events, "events_next": events_next}


def node_events(
    connection: Connection, node_id: int, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of one node's events, newest first, and the id to continue before."""
    table = schema.events
    query = select(table).where(table.c.node_id == node_id).order_by(table.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(table.c.id < before)
    rows = connection.execute(query).all()
    return [event_json(r) for r in rows[:limit]], (rows[limit - 1].id if len(rows) > limit else None)


def _order(sort: str, descending: bool) -> list[Any]:
    """
    The ORDER BY of a sort: nodes with no value (no cluster) after the
    others either way, except that never observed counts as the oldest.
    """
    nodes = schema.nodes
    if sort not in SORTS:
        raise Invalid(f"sort: must be one of {', '.join(SORTS)}, or one of them after '-'", "sort")
    column: ColumnElement[Any] = nodes.c.power_state_observed_at if sort == "observed" else nodes.c[sort]
    ordered = column.desc() if descending else column.asc()
    nulls_first = sort == "observed" and not descending
    ordered = ordered.nulls_first() if nulls_first else ordered.nulls_last()
    return [ordered] if sort == "name" else [ordered, nodes.c.name]


def _with_actions(connection: Connection, rows: list[Row]) -> list[dict[str, Any]]:
    """Each node's JSON with its action in play and last failure, in two queries for all of them."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    table = schema.power_actions
    outstanding: dict[int, list[Row]] = {}
    for action in connection.execute(
        select(table).where(table.c.node_id.in_(ids), table.c.status.in_(values(OUTSTANDING))).order_by(table.c.id)
    ).all():
        outstanding.setdefault(action.node_id, []).append(action)
    newest_ended = select(func.max(table.c.id)).where(
        table.c.node_id.in_(ids), table.c.status.in_(values(FINAL))
    ).group_by(table.c.node_id)
    failures = {
        a.node_id: action_json(a)
        for a in connection.execute(select(table).where(table.c.id.in_(newest_ended))).all()
        if a.status == ActionStatus.FAILED
    }
    shown = []
    for row in rows:
        in_play = outstanding.get(row.id, [])
        action = None if not in_play else {**action_json(in_play[-1]), "progress": in_play[-1].progress}
        shown.append({**node_json(row), "action": action, "queued": max(0, len(in_play) - 1),
                      "last_failure": failures.get(row.id)})
    return shown
