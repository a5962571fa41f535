"""
Giving a node up when the region moves it to another cluster
(``ReleaseNode``).

The region hands the node to its new cluster only once this one has
answered, so the answer must be a promise: from then on this cluster
process never touches the node's BMC, unless the region hands the node
over to it anew.  To keep it, the cluster:

1. drops the node from its book, so no sweep reads it again (a read
   already waiting for a sweep slot checks the book first);
2. cancels what it has in play for it (each request answered as the
   registry ends it);
3. if a recovery is under way, waits for it and leaves the node out of it:
   its pages may have been made before the move, and may even arrive after
   the release request (a recovery that starts after the request is made
   after the move, and does not list the node);
4. waits until the registry has nothing in play for the node;

and only then answers.
"""

from __future__ import annotations

from typing import Sequence

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from pserv.cluster.nodes import NodeBook
from pserv.power.registry import ActionEvent, PowerActionRegistry
from pserv.rpc.messages import RecoveryNode


class Recovery:
    """
    One recovery under way: the nodes given up meanwhile, which its
    (possibly older) answer must not bring back, and who waits for its end.
    """

    def __init__(self) -> None:
        self.given_up: set[int] = set()
        self._waiting: list[Deferred[None]] = []

    def fresh(self, nodes: Sequence[RecoveryNode]) -> list[RecoveryNode]:
        """The recovery's entries but those of nodes given up meanwhile."""
        return [node for node in nodes if node.node not in self.given_up]

    def finished(self) -> Deferred[None]:
        """Fires once the recovery's answer has been acted on (or it failed)."""
        self._waiting.append(Deferred())
        return self._waiting[-1]

    def end(self) -> None:
        """The answer has been acted on, or the recovery failed."""
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)


class Handover:
    """
    The cluster's end of node moves.

    :param book: the nodes the cluster owns.
    :param registry: the cluster's power actions.
    """

    def __init__(self, clock: IReactorTime, book: NodeBook, registry: PowerActionRegistry) -> None:
        self.clock = clock
        self.book = book
        self.registry = registry
        self.recovery: Recovery | None = None
        self._idle: dict[str, list[Deferred[None]]] = {}
        registry.add_listener(self._follow)

    def start_recovery(self) -> Recovery:
        """A recovery starts; call :meth:`Recovery.end` when its answer is acted on."""
        recovery = self.recovery = Recovery()
        recovery.finished().addCallback(self._recovered, recovery)
        return recovery

    def _recovered(self, _: None, recovery: Recovery) -> None:
        if self.recovery is recovery:
            self.recovery = None

    def give_up(self, node: int) -> Deferred[None]:
        """Give ``node`` up; fires once nothing is in play for it (see the module)."""
        return Deferred.fromCoroutine(self._give_up(node))

    async def _give_up(self, node: int) -> None:
        self.book.forget(node)
        key = str(node)
        current, waiting = self.registry.in_play(key)
        for action in (waiting, current):
            if action is not None:
                self.registry.cancel(key, action.id)
        recovery = self.recovery
        if recovery is not None:
            recovery.given_up.add(node)
            await recovery.finished()
        await self.idle(key)

    def idle(self, node: str) -> Deferred[None]:
        """Fires once the registry has nothing in play for ``node``."""
        if self.registry.in_play(node) == (None, None):
            return succeed(None)
        self._idle.setdefault(node, []).append(Deferred())
        return self._idle[node][-1]

    def _follow(self, event: ActionEvent) -> None:
        if event.name != "ended" or event.node not in self._idle:
            return
        if self.registry.in_play(event.node) == (None, None):
            for waiter in self._idle.pop(event.node):
                self.clock.callLater(0, waiter.callback, None)
