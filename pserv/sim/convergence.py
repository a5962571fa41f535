"""
Invariant 3: once faults stop, every node whose BMC works converges.

A node has converged when:

- none of its actions is outstanding, it is not left ``deleting``, and it
  is not left moving (its old cluster has given it up);
- the region's observed power is the BMC's real power (the region knows
  the truth, drift included);
- with drift policy ``enforce``, the real power is the desired one, but
  for a locked node desired off (the lock holds an off back);
- with ``observe``, the real power is the desired one if the node's newest
  power-changing action ended ``done`` and nobody pressed its power button
  after that action was asked for (a cancelled or failed action, or a
  button press, leaves a drift the region shows but does not undo).
"""

from __future__ import annotations

from datetime import timezone
from typing import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pserv.power.states import DEFINITE, OUTSTANDING, ActionKind, ActionStatus
from pserv.region import schema
from pserv.sim.truth import BMCTruth

CHANGING = frozenset(kind for kind in ActionKind if kind.changes_power)
"""The kinds of action that change power."""


def unconverged(engine: Engine, truth: BMCTruth, region_offset: float | Sequence[float] = 0.0,
                asked_by: Mapping[int, float] | None = None) -> list[str]:
    """
    Why each node that has not converged has not; empty once all have.

    :param region_offset: how far the region's clock (its action times) is
        off the world's; with several regions, each one's.
    :param asked_by: the offset of the region that stamped each action, where
        known (the one that acknowledged it); an action not in it is taken as
        asked for at the earliest its stamp may mean.
    """
    offsets = [region_offset] if isinstance(region_offset, (int, float)) else list(region_offset)
    stamped = StampedBy(asked_by or {}, max(offsets))
    reasons = []
    with engine.connect() as connection:
        nodes = connection.execute(select(schema.nodes)).all()
        actions = connection.execute(
            select(schema.power_actions).order_by(schema.power_actions.c.id)
        ).all()
    by_node: dict[int, list] = {}
    for action in actions:
        by_node.setdefault(action.node_id, []).append(action)
    for node in nodes:
        why = _why_not(node, by_node.get(node.id, []), truth, stamped)
        if why:
            reasons.append(f"node {node.id} ({node.power_parameters['address']}): {why}")
    return reasons


class StampedBy:
    """The offset of the clock that stamped each action's ``requested_at``."""

    def __init__(self, known: Mapping[int, float], otherwise: float) -> None:
        self.known = known
        self.otherwise = otherwise

    def __call__(self, action: int) -> float:
        return self.known.get(action, self.otherwise)


def _why_not(node, actions: list, truth: BMCTruth, offset_of: StampedBy) -> str | None:
    address = node.power_parameters["address"]
    bmc = truth.fleet.bmcs[address]
    real = bmc.power.value
    outstanding = [f"{a.kind} {a.id} {a.status}" for a in actions if a.status in OUTSTANDING]
    if outstanding:
        return "outstanding: " + ", ".join(outstanding)
    if node.lifecycle == "deleting":
        return "left deleting"
    if node.moving_from is not None:
        return f"still moving from {node.moving_from}"
    if bmc.settling:
        return "BMC still settling"
    if node.power_state != real:
        return f"region shows {node.power_state}, BMC is {real}"
    desired = node.desired_power_state
    if desired not in DEFINITE or real == desired:
        return None
    if node.drift_policy == "enforce":
        if node.locked and desired == "off":
            return None
        return f"enforced desired {desired}, BMC is {real}"
    changing = [a for a in actions if a.kind in CHANGING]
    if changing and changing[-1].status == ActionStatus.DONE:
        asked = changing[-1].requested_at.replace(tzinfo=timezone.utc).timestamp() - offset_of(changing[-1].id)
        if truth.last_press(address) < asked:
            return f"newest action {changing[-1].id} done, yet desired {desired} and BMC {real}"
    return None
