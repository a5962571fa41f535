"""
Which requests the registry admits: each node's intent generation.

Every power request counts the node's generation up, or brings the
region's value; a power request older than the node's current generation
is stale, and is answered ``superseded`` at once without running.  A query
changes nothing, so it is always admitted at the current generation.
"""

from __future__ import annotations

from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import ActionKind
from pserv.power.steps import PowerAction


class Admission:
    """
    The intent generation of every node the registry has seen.
    """

    __slots__ = ("_generations",)

    def __init__(self) -> None:
        self._generations: dict[str, int] = {}

    def generation(self, node: str) -> int:
        """``node``'s current intent generation."""
        return self._generations.get(node, 0)

    def admit(self, node: str, kind: ActionKind, generation: int | None) -> int | None:
        """
        The generation a request runs at, or ``None`` if it is stale.

        :param kind: what the request asks for: only power requests count.
        :param generation: the region's generation for the request, or
            ``None`` to count one up (for a power request).
        """
        current = self._generations.get(node, 0)
        if not kind.changes_power:
            return current
        if generation is None:
            generation = current + 1
        elif generation < current:
            return None
        self._generations[node] = generation
        return generation

    def refusal(self, node: str, kind: ActionKind, action_id: int | None, newest: PowerAction | None) -> Outcome:
        """
        What a stale request is answered.

        :param action_id: the region's id the request brought, if any.
        :param newest: the action carrying the node's current intent, if any.
        """
        current = self._generations.get(node, 0)
        return Outcome(
            OutcomeStatus.SUPERSEDED,
            action_id or 0,
            kind,
            current,
            error=f"stale request: the node's intent is at generation {current}",
            superseded_by=newest.id if newest else None,
        )
