"""
The actions a piece of work ended, for the region's metrics: each one's
kind, final status and seconds from request to outcome.

An action that reaches a final status has ``finished_at`` stamped with
the ``now`` of the transaction that moved it
(:mod:`pserv.region.store.transitions`), so the actions a transaction
ended are those of its ids finished at exactly its ``now``: an outcome
sent again, of an action ended before, is not counted twice.  Each
function here runs a store function and then that one read, in the same
transaction.  An action ended by a store function that answers it (an
operator's cancel of a pending action) is read from that answer
(:func:`ended_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, NamedTuple

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pserv.power.states import FINAL, ActionStatus, values
from pserv.region import schema
from pserv.region.store.actions import expire_stuck
from pserv.region.store.common import chunks, utc
from pserv.region.store.report_batches import report_actions
from pserv.util.times import moment_from_rfc3339


class Ended(NamedTuple):
    """One action that ended: its kind, final status, and seconds from its request to its end."""

    kind: str
    status: str
    seconds: float | None


def ended_at(connection: Connection, action_ids: Iterable[int], now: datetime) -> list[Ended]:
    """Those of ``action_ids`` that reached a final status at ``now``, in id order."""
    table = schema.power_actions
    found = []
    for ids in chunks(sorted(set(action_ids))):
        found += connection.execute(
            select(table.c.id, table.c.kind, table.c.status, table.c.requested_at, table.c.finished_at)
            .where(table.c.id.in_(ids), table.c.status.in_(values(FINAL)), table.c.finished_at == utc(now))
        ).all()
    return [Ended(row.kind, row.status, _seconds(row.requested_at, row.finished_at))
            for row in sorted(found, key=lambda row: row.id)]


def superseded_by(connection: Connection, newer: Iterable[Mapping[str, Any]], now: datetime) -> list[Ended]:
    """
    The pending actions that the actions ``newer`` (as the store answers
    them) superseded at ``now`` (the region ends them itself: no cluster
    ever had them), in id order; none for an action of ``newer`` that a
    request only joined.  Read by node and status (the index both use), so
    the cost follows the nodes asked for, not every action ever superseded.
    """
    table = schema.power_actions
    by_node = {int(action["node"]): int(action["id"]) for action in newer}
    found = []
    for nodes in chunks(sorted(by_node)):
        found += connection.execute(
            select(table.c.id, table.c.kind, table.c.status, table.c.requested_at, table.c.finished_at)
            .where(table.c.node_id.in_(nodes), table.c.status == ActionStatus.SUPERSEDED.value,
                   table.c.superseded_by.in_([by_node[n] for n in nodes]), table.c.finished_at == utc(now))
        ).all()
    return [Ended(row.kind, row.status, _seconds(row.requested_at, row.finished_at))
            for row in sorted(found, key=lambda row: row.id)]


def ended_of(action: Mapping[str, Any]) -> Ended:
    """An action, as the store answers it (times as ISO 8601 text), that has ended, as an :class:`Ended`."""
    requested, finished = action.get("requested_at"), action.get("finished_at")
    seconds = None
    if requested and finished:
        seconds = (moment_from_rfc3339(finished) - moment_from_rfc3339(requested)).total_seconds()
    return Ended(str(action["kind"]), str(action["status"]), seconds)


def report_actions_ended(
    connection: Connection, cluster: str, reports: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """
    :func:`~pserv.region.store.report_batches.report_actions`, its answer
    with ``"ended"``: the actions its outcomes ended (:class:`Ended`).
    """
    result: dict[str, Any] = report_actions(connection, cluster, reports, now)
    retry = set(result["retry"])
    outcomes = [int(o["action"]) for o in reports.get("outcomes", ())]
    result["ended"] = ended_at(connection, [a for a in outcomes if a not in retry], now) if outcomes else []
    return result


def expire_stuck_ended(connection: Connection, now: datetime, timeout: float) -> tuple[list[int], list[Ended]]:
    """
    :func:`~pserv.region.store.actions.expire_stuck`, and those of the
    actions it timed out that ended (a pending one fails; a sent one is
    ``timed_out``, still open).
    """
    ids = expire_stuck(connection, now, timeout)
    return ids, ended_at(connection, ids, now) if ids else []


def _seconds(requested: datetime | None, finished: datetime | None) -> float | None:
    if requested is None or finished is None:
        return None
    return (finished - requested).total_seconds()
