"""
What clusters report: actions running, their progress and outcomes, and
observed power states.

Every report is idempotent by action id and refused (recorded, never
applied) when the reporting cluster does not own the node (the cluster a
moving node is moving from still owns it: :func:`~pserv.region.store.moves.owner`).
An outcome is applied to the node only if it carries the node's current
generation of intent; a stale one is recorded as an event and changes
nothing else.

Observations are ordered by what the region controls, never by comparing
two machines' clocks: a state is applied only if it was read in the node's
current epoch (:mod:`pserv.region.store.moves`), in which one cluster, on
one clock, reads the node; and, within the epoch, only if that cluster
read it after the one the region shows.  The observation time the node
shows is the reading cluster's; a hand-over clears it.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any, Iterable, Mapping

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.states import (
    DEFINITE,
    FINAL,
    IN_FLIGHT,
    OUTSTANDING,
    ActionKind,
    ActionStatus,
    PowerState,
    values,
)
from pserv.region import schema
from pserv.region.store.actions import request_intent
from pserv.region.store.common import add_event, add_events, chunks, event_row, utc
from pserv.region.store.intent import settle_intent
from pserv.region.store.locks import SWITCHING_OFF, locked_message
from pserv.region.store.moves import owner
from pserv.region.store.transitions import move
from pserv.util.times import moment_from_iso


def mark_sent(connection: Connection, action_ids: list[int], now: datetime) -> None:
    """Pending actions handed to their cluster become ``sent``."""
    move(connection, action_ids, ActionStatus.SENT, now)


def report_running(connection: Connection, cluster: str, action_id: int, now: datetime) -> bool:
    """
    The cluster started the action.  :return: whether anything changed.
    """
    found = _owned_action(connection, cluster, action_id, now)
    if found is None or not move(connection, [action_id], ActionStatus.RUNNING, now):
        return False
    action, node = found
    add_event(connection, now, "action_running", f"{action.kind} action {action_id} running on {cluster}", node,
              action_id)
    return True


def report_progress(connection: Connection, cluster: str, action_id: int, progress: str, now: datetime) -> bool:
    """
    The action reached a milestone (``off_verified`` for a cycle), so that
    recovery finishes it rather than starting it over.
    """
    found = _owned_action(connection, cluster, action_id, now)
    if found is None or ActionStatus(found[0].status).final:
        return False
    table = schema.power_actions
    connection.execute(update(table).where(table.c.id == action_id).values(progress=progress[:32]))
    action, node = found
    add_event(connection, now, "action_progress", f"{action.kind} action {action_id}: {progress[:32]}", node,
              action_id)
    return True


def report_outcome(connection: Connection, cluster: str, outcome: Mapping[str, Any], now: datetime) -> bool:
    """
    An action's outcome.  Recorded once; applied to the node only at the
    node's current generation.

    :return: whether it was applied to the node.
    """
    found = _owned_action(connection, cluster, int(outcome["action"]), now)
    if found is None:
        return False
    action, node = found
    status = ActionStatus(outcome["status"]) if outcome["status"] in values(FINAL) else ActionStatus.FAILED
    if not _record_outcome(connection, action, status, outcome, now):
        return False
    if action.cancel_requested:
        settle_intent(connection, node, action, now)
    applied = int(outcome.get("generation", -1)) >= node.generation and action.generation == node.generation
    seen_at = newer(node, outcome)
    if applied and seen_at is not None and outcome.get("power_state") in values(DEFINITE):
        _observe(connection, node, outcome["power_state"], None, seen_at, now)
    elif not applied:
        add_event(connection, now, "stale_outcome", stale_message(action, status.value, node), node, action.id)
    _finish_deletion(connection, node, now)
    return applied


def report_power_states(
    connection: Connection, cluster: str, states: list[Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """
    Observed power states from the cluster's sweep, with a few statements
    for the whole list: the nodes locked and read together, their new
    observations written in one statement, the events in one.  A node whose
    policy is ``enforce``, seen twice in a row in the same state other than
    the one desired, with nothing outstanding, gets an action restoring it.

    :return: ``{"changed": how many observed states changed, "enforced":
        the ids of the actions made to restore desired states}``.
    """
    nodes = locked_nodes(connection, {int(state["node"]) for state in states})
    rows, events, sightings = [], [], []
    for state in states:
        node = nodes.get(int(state["node"]))
        if node is None or owner(node) != cluster:
            continue
        observed_at = newer(node, state)
        if observed_at is None:
            continue
        seen = state["power_state"]
        error = state.get("error") if seen == PowerState.ERROR else None
        rows.append({"node_id": node.id, "state": seen, "at": utc(observed_at), "error": error})
        if seen != node.power_state:
            events.append(event_row(now, "power_observed", observed_message(node, seen, error), node))
        sightings.append((SimpleNamespace(**vars(node)), seen))
        node.power_state, node.power_state_observed_at, node.power_error = seen, utc(observed_at), error
    write_observations(connection, rows)
    add_events(connection, events)
    enforced = [action for node, seen in sightings if (action := _enforce(connection, node, seen, now)) is not None]
    return {"changed": len(events), "enforced": enforced}


def locked_nodes(connection: Connection, node_ids: Iterable[int]) -> dict[int, SimpleNamespace]:
    """
    The nodes ``node_ids`` that exist, locked for update in id order (as
    every writer locks them), as records the caller may change as it
    changes their rows.
    """
    table = schema.nodes
    found: dict[int, SimpleNamespace] = {}
    for ids in chunks(sorted(node_ids)):
        query = select(table).where(table.c.id.in_(ids)).order_by(table.c.id).with_for_update()
        found.update((row.id, SimpleNamespace(**row._mapping)) for row in connection.execute(query))
    return found


def write_observations(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Nodes' new observed states, in one statement."""
    if rows:
        table = schema.nodes
        connection.execute(
            update(table).where(table.c.id == bindparam("node_id")).values(
                power_state=bindparam("state"), power_state_observed_at=bindparam("at"),
                power_error=bindparam("error")),
            rows,
        )


def _enforce(connection: Connection, node: Row, seen: str, now: datetime) -> int | None:
    drifted = seen in DEFINITE and node.desired_power_state in DEFINITE and seen != node.desired_power_state
    if not drifted or node.drift_policy != "enforce" or node.power_state != seen or node.lifecycle != "ready":
        return None
    table = schema.power_actions
    busy = connection.execute(
        select(table.c.id).where(table.c.node_id == node.id, table.c.status.in_(values(OUTSTANDING))).limit(1)
    ).first()
    if busy is not None:
        return None
    if node.locked and ActionKind(node.desired_power_state) in SWITCHING_OFF:
        _hold_back(connection, node, seen, now)
        return None
    action, _ = request_intent(connection, node, ActionKind(node.desired_power_state), "drift-policy", now)
    add_event(connection, now, "drift_enforced",
              f"power seen {seen} twice, desired {node.desired_power_state}: action {action['id']}", node, action["id"])
    return action["id"]


_HELD_SINCE = ("drift_held", "power_observed", "node_locked", "node_unlocked")
"""The events after which a node's drift held back by its lock is said again: a change of its state or lock."""


def _hold_back(connection: Connection, node: Any, seen: str, now: datetime) -> None:
    """
    The locked ``node`` drifted on while it should be off: the lock holds
    enforcement back.  Said once (an event) until its state or lock changes.
    """
    events = schema.events
    last = connection.execute(
        select(events.c.kind).where(events.c.node_id == node.id, events.c.kind.in_(_HELD_SINCE))
        .order_by(events.c.id.desc()).limit(1)
    ).scalar()
    if last != "drift_held":
        add_event(connection, now, "drift_held",
                  f"power seen {seen} twice, desired {node.desired_power_state}: not enforced, {locked_message(node)}",
                  node)


def _record_outcome(
    connection: Connection, action: Row, status: ActionStatus, outcome: Mapping[str, Any], now: datetime
) -> bool:
    """End the action with its outcome, once; whether it ended now (not before)."""
    ended = move(
        connection, [action.id], status, now,
        error=outcome.get("error"),
        power_state=outcome.get("power_state"),
        superseded_by=outcome.get("superseded_by"),
        cancel_requested=action.cancel_requested,
    )
    if not ended:
        return False
    add_event(connection, now, f"action_{status.value}", outcome_message(action, status.value, outcome),
              _node_of(connection, action), action.id)
    return True


def outcome_message(action: Row, status: str, outcome: Mapping[str, Any]) -> str:
    """The message of the event an action's outcome records: ``on action 7 failed: why``."""
    detail = f": {outcome['error']}" if outcome.get("error") else ""
    return f"{action.kind} action {action.id} {status}{detail}"


def stale_message(action: Row, status: str, node: Any) -> str:
    """The message of a ``stale_outcome`` event: an outcome of an older generation than the node's."""
    return (f"{action.kind} action {action.id} ended {status} at generation {action.generation}; "
            f"the node's intent is at {node.generation}: not applied")


def observed_message(node: Any, state: str, error: str | None) -> str:
    """The message of a ``power_observed`` event: the node's new state, and the one before."""
    return f"power observed {state} (was {node.power_state})" + (f": {error}" if error else "")


def newer(node: Row, report: Mapping[str, Any]) -> datetime | None:
    """
    When the state ``report`` carries was read, if it is newer than the
    node's: of the node's current epoch, and read after the observation
    the node shows (both by the one clock of the epoch's cluster).
    """
    seen_at = _parse_time(report.get("observed_at"))
    if seen_at is None or int(report.get("epoch", 0)) != node.epoch:
        return None
    if node.power_state_observed_at is not None and seen_at <= node.power_state_observed_at:
        return None
    return seen_at


def _observe(connection: Connection, node: Row, state: str, error: str | None, at: datetime,
             now: datetime) -> int:
    nodes = schema.nodes
    error = error if state == PowerState.ERROR else None
    connection.execute(
        update(nodes).where(nodes.c.id == node.id).values(
            power_state=state, power_state_observed_at=utc(at), power_error=error
        )
    )
    if state == node.power_state:
        return 0
    add_event(connection, now, "power_observed", observed_message(node, state, error), node)
    return 1


def _finish_deletion(connection: Connection, node: Row, now: datetime) -> None:
    if node.lifecycle != "deleting":
        return
    table = schema.power_actions
    busy = connection.execute(
        select(table.c.id).where(table.c.node_id == node.id, table.c.status.in_(values(IN_FLIGHT))).limit(1)
    ).first()
    if busy is None:
        connection.execute(delete(table).where(table.c.node_id == node.id))
        connection.execute(delete(schema.nodes).where(schema.nodes.c.id == node.id))
        add_event(connection, now, "node_deleted", f"node {node.name} deleted", node)


def holds(connection: Connection, cluster: str, action_id: int) -> bool:
    """Whether ``cluster`` holds the node of ``action_id`` (true of an action that no longer exists: nothing to refuse)."""
    action = connection.execute(
        select(schema.power_actions.c.node_id).where(schema.power_actions.c.id == action_id)
    ).first()
    if action is None:
        return True
    node = connection.execute(
        select(schema.nodes.c.cluster, schema.nodes.c.moving_from).where(schema.nodes.c.id == action.node_id)
    ).first()
    return node is None or owner(node) == cluster


def _owned_action(connection: Connection, cluster: str, action_id: int, now: datetime) -> tuple[Row, Row] | None:
    action = connection.execute(
        select(schema.power_actions).where(schema.power_actions.c.id == action_id)
    ).first()
    if action is None:
        return None
    node = _node_of(connection, action, lock=True)
    if owner(node) != cluster:
        add_event(
            connection, now, "report_refused",
            f"cluster {cluster} reported on action {action_id} of a node it does not own", node, action_id,
        )
        return None
    return action, node


def _node_of(connection: Connection, action: Row, lock: bool = False) -> Row:
    query = select(schema.nodes).where(schema.nodes.c.id == action.node_id)
    return connection.execute(query.with_for_update() if lock else query).one()


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return utc(moment_from_iso(text))
    except ValueError:
        return None
