"""
Which requests the registry admits: each node's intent generation.

Every power request counts the node's generation up, or brings the
region's value; a power request older than the node's current generation
is stale, and is answered ``superseded`` at once without running.  A query
changes nothing, so it is always admitted at the current generation.  A
generation heard of another way (a recovery answer) is **seeded**: it
raises the node's generation, never lowers it.
"""

from __future__ import annotations

from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import ActionKind


_QUERY = ActionKind.QUERY


class Admission:
    """
    The intent generation of every node the registry has seen, and the id
    of the action that carries it.
    """

    __slots__ = ("_generations", "_carriers")

    def __init__(self) -> None:
        self._generations: dict[str, int] = {}
        self._carriers: dict[str, int] = {}

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
        if kind is _QUERY:
            return current
        if generation is None:
            generation = current + 1
        elif generation < current:
            return None
        self._generations[node] = generation
        return generation

    def seed(self, node: str, generation: int) -> bool:
        """
        ``node``'s generation is at least ``generation`` (a recovery answer
        says so).  It is never lowered.

        :return: whether it was raised.
        """
        if generation <= self._generations.get(node, 0):
            return False
        self._generations[node] = generation
        self._carriers.pop(node, None)
        return True

    def carried_by(self, node: str, action_id: int | None) -> None:
        """
        The power request admitted last for ``node`` brought ``action_id``
        (``None``: it brought none, and the action in play is asked instead).
        """
        if action_id is None:
            self._carriers.pop(node, None)
        else:
            self._carriers[node] = action_id

    def carrier(self, node: str) -> int | None:
        """The id of the request that carries ``node``'s current intent, if this registry has seen it."""
        return self._carriers.get(node)

    def refusal(self, node: str, kind: ActionKind, action_id: int | None, in_play: int | None = None) -> Outcome:
        """
        What a stale request is answered: superseded by the request that
        carries the current intent, if known.

        :param action_id: the region's id the request brought, if any.
        :param in_play: the id of the newest action in play, named when the
            request carrying the current intent brought no id.
        """
        current = self._generations.get(node, 0)
        return Outcome(
            OutcomeStatus.SUPERSEDED,
            action_id or 0,
            kind,
            current,
            error=f"stale request: the node's intent is at generation {current}",
            superseded_by=self._carriers.get(node, in_play),
        )
