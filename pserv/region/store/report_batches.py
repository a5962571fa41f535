"""
A cluster's batch of reports (:class:`~pserv.rpc.messages.ActionReports`),
recorded with a few statements for the whole batch rather than several
per report.

The rules are those of :mod:`pserv.region.store.reports`, which records one
report at a time; this module applies them to many at once.  It locks the
batch's nodes (in id order, as every other writer does: node, then its
actions) and reads their actions; moves every action that started to
``running`` in one statement and every action that ended to its final
status in one per status; applies the outcomes' states to their nodes in
one statement; and appends every event in one.  Reports that need more
than that go through the one-at-a-time functions, each in its own
savepoint: milestones, outcomes of a cancelled action (which may give the
node's intent back) or of a node being deleted, and a second outcome for
one node in the batch.  If the batch's statements fail, each report is
tried alone, so that one bad report is named for retry and the rest are
recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection
from twisted.logger import Logger
from twisted.python.reflect import qual

from pserv.power.states import DEFINITE, FINAL, ActionStatus, values
from pserv.region import schema
from pserv.region.store.common import add_events, chunks, event_row, utc
from pserv.region.store.moves import owner
from pserv.region.store import reports
from pserv.region.store.reports import (
    holds,
    locked_nodes,
    observed_message,
    outcome_message,
    report_outcome,
    report_progress,
    report_running,
    stale_message,
)
from pserv.region.store.transitions import move, move_each

log = Logger()


def report_actions(
    connection: Connection, cluster: str, reports: Mapping[str, Any], now: datetime
) -> dict[str, list[int]]:
    """
    Record a batch of reports from ``cluster`` (``running``, ``progress``
    and ``outcomes``, as the wire carries them).  Every report is
    idempotent by action id, as one alone is.

    :return: ``{"applied": the actions whose outcome changed their node,
        "retry": the actions whose report was not recorded, "refused": the
        actions whose outcome was not taken because ``cluster`` does not
        hold their node}``.
    """
    running = [int(r["action"]) for r in reports.get("running", ())]
    outcomes = list(reports.get("outcomes", ()))
    alone: list[tuple[int, Callable[..., Any], tuple[Any, ...]]] = [
        (int(r["action"]), report_progress, (int(r["action"]), r["progress"])) for r in reports.get("progress", ())
    ]
    try:
        with connection.begin_nested():
            applied, left, refused = _record_together(connection, cluster, running, outcomes, now)
    except Exception as e:  # noqa: BLE001 - the reports are tried one by one instead
        log.warn("a batch of reports from {cluster} failed together ({error}); trying each alone",
                 cluster=cluster, error=qual(type(e)))
        applied, left, refused = [], outcomes, []
        alone += [(action, report_running, (action,)) for action in running]
    alone += [(int(o["action"]), report_outcome, (o,)) for o in left]
    retry = []
    for action, record, arguments in alone:
        recorded = _record_alone(connection, cluster, action, record, arguments, now)
        if recorded is None:
            retry.append(action)
        elif record is report_outcome and recorded:
            applied.append(action)
        elif record is report_outcome and not holds(connection, cluster, action):
            refused.append(action)
    return {"applied": sorted(applied), "retry": retry, "refused": sorted(refused)}


def _record_alone(connection: Connection, cluster: str, action: int, record: Callable[..., Any],
                  arguments: tuple[Any, ...], now: datetime) -> Any:
    """One report by its own function in its own savepoint; ``None`` if it failed."""
    try:
        with connection.begin_nested():
            return record(connection, cluster, *arguments, now)
    except Exception as e:  # noqa: BLE001 - one bad report must not hold back the batch
        log.error("the report on action {action} was not recorded ({error}); its cluster sends it again",
                  action=action, error=qual(type(e)))
        return None


def _record_together(
    connection: Connection, cluster: str, running: list[int], outcomes: list[Mapping[str, Any]], now: datetime
) -> tuple[list[int], list[Mapping[str, Any]], list[int]]:
    """
    The batch's running reports and the outcomes that need nothing more
    than their rules, together; the outcomes left for one at a time, and
    those refused.
    """
    wanted = set(running) | {int(o["action"]) for o in outcomes}
    actions, nodes = _lock(connection, wanted)
    events: list[dict[str, Any]] = []
    owned = set()
    for action_id in sorted(wanted & set(actions)):
        node = nodes[actions[action_id].node_id]
        if owner(node) == cluster:
            owned.add(action_id)
        else:
            events.append(event_row(now, "report_refused", f"cluster {cluster} reported on action {action_id} "
                                    "of a node it does not own", node, action_id))
    events += _started(connection, [a for a in running if a in owned], actions, nodes, cluster, now)
    together, left = _sort_outcomes(outcomes, owned, actions, nodes)
    applied = _ended(connection, together, actions, nodes, events, now)
    add_events(connection, events)
    refused = sorted(a for a in (int(o["action"]) for o in outcomes) if a in actions and a not in owned)
    return applied, left, refused


def _lock(connection: Connection, action_ids: Iterable[int]) -> tuple[dict[int, Any], dict[int, Any]]:
    """The actions ``action_ids`` that exist, and their nodes, locked: nodes first, in id order."""
    table = schema.power_actions
    found: dict[int, Any] = {}
    for ids in chunks(sorted(action_ids)):
        found.update(connection.execute(select(table.c.id, table.c.node_id).where(table.c.id.in_(ids))).all())
    nodes = locked_nodes(connection, set(found.values()))
    actions: dict[int, Any] = {}
    for ids in chunks(sorted(found)):
        actions.update((row.id, row) for row in connection.execute(
            select(table).where(table.c.id.in_(ids)).with_for_update()))
    return actions, nodes


def _started(connection: Connection, running: list[int], actions: Mapping[int, Any], nodes: Mapping[int, Any],
             cluster: str, now: datetime) -> list[dict[str, Any]]:
    """Move the actions that started to ``running``; their events."""
    moved = move(connection, running, ActionStatus.RUNNING, now)
    return [
        event_row(now, "action_running", f"{actions[a].kind} action {a} running on {cluster}",
                  nodes[actions[a].node_id], a)
        for a in moved
    ]


def _sort_outcomes(
    outcomes: list[Mapping[str, Any]], owned: set[int], actions: Mapping[int, Any], nodes: Mapping[int, Any]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The owned outcomes to record together, and those to record alone (the refused are dropped)."""
    together, left, seen_nodes = [], [], set()
    for outcome in outcomes:
        action_id = int(outcome["action"])
        if action_id not in owned:
            continue
        action = actions[action_id]
        node = nodes[action.node_id]
        if action.cancel_requested or node.lifecycle == "deleting" or node.id in seen_nodes:
            left.append(outcome)
        else:
            together.append(outcome)
            seen_nodes.add(node.id)
    return together, left


def _ended(connection: Connection, outcomes: list[Mapping[str, Any]], actions: Mapping[int, Any],
           nodes: Mapping[int, Any], events: list[dict[str, Any]], now: datetime) -> list[int]:
    """End the actions of ``outcomes`` (each on its own node), apply their states; the actions applied."""
    by_status: dict[ActionStatus, dict[int, dict[str, Any]]] = {}
    for outcome in outcomes:
        by_status.setdefault(ActionStatus(_status(outcome)), {})[int(outcome["action"])] = {
            "error": outcome.get("error"), "power_state": outcome.get("power_state"),
            "superseded_by": outcome.get("superseded_by"),
        }
    ended = set()
    for status, changes in by_status.items():
        ended.update(move_each(connection, changes, status, now))
    applied, seen = [], []
    for outcome in outcomes:
        action = actions[int(outcome["action"])]
        if action.id not in ended:
            continue
        node = nodes[action.node_id]
        events.append(event_row(now, f"action_{_status(outcome)}", outcome_message(action, _status(outcome),
                                                                                   outcome), node, action.id))
        if int(outcome.get("generation", -1)) >= node.generation and action.generation == node.generation:
            applied.append(action.id)
            seen_at = reports.newer(node, outcome)
            if seen_at is not None and outcome.get("power_state") in values(DEFINITE):
                seen.append((node, outcome["power_state"], seen_at))
        else:
            events.append(event_row(now, "stale_outcome", stale_message(action, _status(outcome), node), node,
                                    action.id))
    _observe_all(connection, seen, events, now)
    return applied


def _observe_all(connection: Connection, seen: list[tuple[Any, str, datetime]], events: list[dict[str, Any]],
                 now: datetime) -> None:
    """The nodes' new observed states, in one statement; an event for each that changed."""
    reports.write_observations(
        connection, [{"node_id": node.id, "state": state, "at": utc(at), "error": None} for node, state, at in seen])
    events += [event_row(now, "power_observed", observed_message(node, state, None), node)
               for node, state, _ in seen if state != node.power_state]


def _status(outcome: Mapping[str, Any]) -> str:
    return outcome["status"] if outcome["status"] in values(FINAL) else ActionStatus.FAILED.value


