"""
The line for power budgets: which actions may start their power-on now.

A power budget (:mod:`pserv.region.store.budgets`) bounds the power-ons
started under it: at most ``starts`` per ``per_seconds``, and, if it says,
at most ``in_flight`` whose action has not ended.  A node is under its own
budget (``nodes.budget``) or, with none, under its cluster's default
(``clusters.budget``).  Power-offs are never held back: only an action
about to send ``power_on`` (an ``on``, or a ``cycle`` once the node is
off) asks.

The cluster asks for every such action at once (:func:`take_starts`, the
RPC command ``TakeStarts``), again every ``retry_after`` seconds while any
waits.  Per budget, in one transaction that locks the budget's row (so that
two regions on one database hand out its starts one after the other):

- every action asking joins the line (``budget_waits``), or renews its
  place there; the line is in action id order, the order of intent, across
  every cluster whose nodes share the budget;
- the starts free now are the budget's ``starts`` less those handed out in
  the last ``per_seconds`` (``budget_starts``), and no more than
  ``in_flight`` less those whose action is still outstanding;
- the first actions of the line get them, and only those: an action
  further back waits even while it asks, so that a start kept for an
  earlier action of another cluster is not taken from it;
- an action's place in the line leaves it once it has its start, once it
  has ended (superseded, cancelled), or once it has not asked for
  :data:`STALE_ASK` seconds (its cluster is gone: it holds no place until
  its cluster asks again).

Each start handed out is a row of ``budget_starts`` at the time it was
handed out, which is what a budget is measured by: on PostgreSQL, by the
database server's clock, read once the budget's row is locked (one clock
for every region that shares the database, however far apart theirs are);
on SQLite (one region), by the time the region passes.  A cluster sends the power-on as soon as it has the
answer, or asks again if the answer came late (:mod:`pserv.cluster.starts`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, delete, false, func, insert, select, text, update
from sqlalchemy.engine import Connection

from pserv.power.states import OUTSTANDING, values
from pserv.region import schema
from pserv.region.store.common import utc

MAX_WINDOW = 3600.0
"""The longest ``per_seconds`` a budget may have."""

STALE_ASK = 15.0
"""Seconds after its last ask that an action's place in a line lapses."""

MIN_RETRY, MAX_RETRY = 0.05, 5.0
"""The bounds of the ``retry_after`` an answer gives."""

BUSY_RETRY = 1.0
"""The ``retry_after`` while no start of the window is due to lapse: the
line waits on an action ending (``in_flight``) or on another cluster."""


@dataclass(frozen=True, slots=True)
class Place:
    """An action waiting in its budget's line: its place (1 is next) of how many wait."""

    action: int
    budget: str
    place: int
    of: int


@dataclass(slots=True)
class Taken:
    """
    What :func:`take_starts` decided.

    :ivar granted: the actions that may send their power-on now.
    :ivar waiting: the others that wait in a line, with their place.
    :ivar refused: the actions that may not start at all: ended, or their
        node is not the asking cluster's (it failed over; a node moving
        away is still its old cluster's until that cluster gives it up).
    :ivar retry_after: seconds until the next ask is worth making.
    :ivar started: how many of ``granted`` each budget gave a start (those
        under no budget are not counted).
    """

    granted: list[int] = field(default_factory=list)
    waiting: list[Place] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    retry_after: float = MAX_RETRY
    started: dict[str, int] = field(default_factory=dict)


def budget_of(node_budget: str | None, cluster_budget: str | None) -> str | None:
    """The budget a node is under: its own, or else its cluster's default."""
    return node_budget if node_budget is not None else cluster_budget


def effective_budgets(connection: Connection, node_ids: Iterable[int]) -> dict[int, str | None]:
    """The budget each of ``node_ids`` is under now (``None``: none)."""
    ids = sorted(set(node_ids))
    if not ids:
        return {}
    nodes, clusters = schema.nodes, schema.clusters
    rows = connection.execute(
        select(nodes.c.id, nodes.c.budget, clusters.c.budget.label("default"))
        .select_from(nodes.outerjoin(clusters, clusters.c.name == nodes.c.cluster))
        .where(nodes.c.id.in_(ids))
    ).all()
    return {row.id: budget_of(row.budget, row.default) for row in rows}


def take_starts(connection: Connection, cluster: str, asks: Sequence[tuple[int, int]], now: datetime) -> Taken:
    """
    Decide, for each ``(action, node)`` that ``cluster`` asks for, whether
    it may start its power-on now (see the module).

    :param now: the time that budgets are measured by.
    """
    taken = Taken()
    moment = utc(now)
    lines: dict[str, list[int]] = defaultdict(list)
    for action, budget in _askers(connection, cluster, asks, taken):
        if budget is None:
            taken.granted.append(action)
        else:
            lines[budget].append(action)
    for budget in sorted(lines):
        _serve(connection, budget, lines[budget], moment, taken)
    taken.granted.sort()
    taken.retry_after = min(max(taken.retry_after, MIN_RETRY), MAX_RETRY)
    return taken


def _askers(connection: Connection, cluster: str, asks: Sequence[tuple[int, int]],
            taken: Taken) -> list[tuple[int, str | None]]:
    """
    The asking actions that may start, each with the budget its node is
    under now; the others go to ``taken.refused``.
    """
    wanted = dict(asks)
    if not wanted:
        return []
    actions, nodes, clusters = schema.power_actions, schema.nodes, schema.clusters
    rows = connection.execute(
        select(actions.c.id, actions.c.node_id, actions.c.status, actions.c.cancel_requested,
               nodes.c.cluster, nodes.c.moving_from, nodes.c.budget, clusters.c.budget.label("default"))
        .join(nodes, nodes.c.id == actions.c.node_id)
        .outerjoin(clusters, clusters.c.name == nodes.c.cluster)
        .where(actions.c.id.in_(sorted(wanted)))
    ).all()
    found = {row.id: row for row in rows}
    askers = []
    for action in sorted(wanted):
        row = found.get(action)
        if (row is None or row.node_id != wanted[action] or cluster not in (row.cluster, row.moving_from)
                or row.status not in values(OUTSTANDING) or row.cancel_requested):
            taken.refused.append(action)
        else:
            askers.append((action, budget_of(row.budget, row.default)))
    return askers


def _serve(connection: Connection, budget: str, askers: list[int], now: datetime, taken: Taken) -> None:
    """Hand out ``budget``'s free starts to the head of its line (see the module)."""
    row = _locked_budget(connection, budget)
    if row is None:  # deleted since the nodes named it: nothing holds them back
        taken.granted.extend(askers)
        return
    now = measured_at(connection, now)
    _renew(connection, budget, askers, now)
    window = timedelta(seconds=row.per_seconds)
    recent = _recent_starts(connection, budget, now - window)
    free = row.starts - len(recent)
    if row.in_flight is not None:
        free = min(free, row.in_flight - _in_flight(connection, budget))
    line = _line(connection, budget, now)
    asking = set(askers)
    granted = [action for action in line[:max(free, 0)] if action in asking]
    _grant(connection, budget, granted, now)
    taken.granted.extend(granted)
    if granted:
        taken.started[budget] = len(granted)
    started = set(granted)
    rest = [action for action in line if action not in started]
    for place, action in enumerate(rest, 1):
        if action in asking:
            taken.waiting.append(Place(action, budget, place, len(rest)))
    if rest:
        taken.retry_after = min(taken.retry_after, _next_free(recent, row, window, now, len(granted)))


def measured_at(connection: Connection, now: datetime) -> datetime:
    """
    The time a budget is measured by now: the database server's clock on
    PostgreSQL (naive UTC, read now, not at the transaction's start), else
    ``now``.
    """
    if connection.dialect.name == "postgresql":
        return connection.execute(text("SELECT CAST(timezone('UTC', clock_timestamp()) AS timestamp)")).scalar_one()
    return now


def _locked_budget(connection: Connection, name: str) -> Any:
    """The budget ``name``'s row, locked for this transaction; ``None`` if there is none."""
    table = schema.budgets
    return connection.execute(select(table).where(table.c.name == name).with_for_update()).first()


def _renew(connection: Connection, budget: str, askers: list[int], now: datetime) -> None:
    """Put each asking action in the line, or renew its place there."""
    waits = schema.budget_waits
    present = set(connection.execute(
        select(waits.c.action_id).where(waits.c.action_id.in_(askers))).scalars())
    if present:
        connection.execute(update(waits).where(waits.c.action_id.in_(sorted(present)))
                           .values(asked_at=now, budget=budget))
    new = [{"action_id": action, "budget": budget, "asked_at": now} for action in askers if action not in present]
    if new:
        connection.execute(insert(waits), new)


def _recent_starts(connection: Connection, budget: str, since: datetime) -> list[datetime]:
    """When each start of ``budget`` handed out after ``since`` was, oldest first."""
    starts = schema.budget_starts
    return list(connection.execute(
        select(starts.c.at).where(starts.c.budget == budget, starts.c.at > since).order_by(starts.c.at)
    ).scalars())


def _in_flight(connection: Connection, budget: str) -> int:
    """How many actions that have a start of ``budget`` are still outstanding."""
    starts, actions = schema.budget_starts, schema.power_actions
    return connection.execute(
        select(func.count(func.distinct(starts.c.action_id)))
        .join(actions, actions.c.id == starts.c.action_id)
        .where(starts.c.budget == budget, actions.c.status.in_(values(OUTSTANDING)))
    ).scalar_one()


def _line(connection: Connection, budget: str, now: datetime) -> list[int]:
    """
    The actions waiting in ``budget``'s line, in order; places lapsed or
    of actions that have ended are dropped first.
    """
    waits, actions = schema.budget_waits, schema.power_actions
    still_wanted = select(actions.c.id).where(
        actions.c.id == waits.c.action_id, actions.c.status.in_(values(OUTSTANDING)),
        actions.c.cancel_requested == false())
    connection.execute(delete(waits).where(
        waits.c.budget == budget, (waits.c.asked_at <= now - timedelta(seconds=STALE_ASK)) | ~still_wanted.exists()))
    return list(connection.execute(
        select(waits.c.action_id).where(waits.c.budget == budget).order_by(waits.c.action_id)).scalars())


def _grant(connection: Connection, budget: str, granted: list[int], now: datetime) -> None:
    """Record a start of ``budget`` for each of ``granted``, which leave the line."""
    if not granted:
        return
    connection.execute(insert(schema.budget_starts), [
        {"budget": budget, "action_id": action, "at": now} for action in granted])
    waits = schema.budget_waits
    connection.execute(delete(waits).where(waits.c.action_id.in_(granted)))
    _forget_old(connection, budget, now)


def _forget_old(connection: Connection, budget: str, now: datetime) -> None:
    """
    Drop the starts of ``budget`` that count for nothing any more: out of
    every window (the longest a budget may have) and of actions ended.
    """
    starts, actions = schema.budget_starts, schema.power_actions
    outstanding = select(actions.c.id).where(
        actions.c.id == starts.c.action_id, actions.c.status.in_(values(OUTSTANDING)))
    connection.execute(delete(starts).where(
        starts.c.budget == budget, starts.c.at < now - timedelta(seconds=MAX_WINDOW), ~outstanding.exists()))


def _next_free(recent: list[datetime], row: Any, window: timedelta, now: datetime, granted: int) -> float:
    """
    Seconds until a start of ``row``'s window lapses, for the actions still
    in line: when the oldest start that keeps the window full leaves it.
    """
    handed = recent + [now] * granted
    over = len(handed) - row.starts
    if over < 0:
        return BUSY_RETRY
    return max((handed[over] + window - now).total_seconds(), MIN_RETRY)


def places(connection: Connection, action_ids: Iterable[int], now: datetime) -> dict[int, Place]:
    """
    Where each of ``action_ids`` that waits in a budget's line stands
    (places lapsed and of ended actions not counted), for the API.
    """
    ids = sorted(set(action_ids))
    if not ids:
        return {}
    waits, actions = schema.budget_waits, schema.power_actions
    mine = connection.execute(select(waits.c.action_id, waits.c.budget).where(waits.c.action_id.in_(ids))).all()
    wanted = set(ids)
    if not mine:
        return {}
    live = and_(waits.c.asked_at > measured_at(connection, utc(now)) - timedelta(seconds=STALE_ASK),
                actions.c.status.in_(values(OUTSTANDING)), actions.c.cancel_requested == false())
    found: dict[int, Place] = {}
    for budget in sorted({row.budget for row in mine}):
        line = list(connection.execute(
            select(waits.c.action_id).join(actions, actions.c.id == waits.c.action_id)
            .where(waits.c.budget == budget, live).order_by(waits.c.action_id)).scalars())
        for place, action in enumerate(line, 1):
            if action in wanted:
                found[action] = Place(action, budget, place, len(line))
    return found
