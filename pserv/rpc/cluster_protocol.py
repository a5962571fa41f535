"""
The cluster's end of its connection to the region (:class:`ClusterRPC`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from pserv.rpc import auth
from pserv.rpc.arguments import split_to_fit
from pserv.rpc.cluster import AdoptNodes, CancelAction, ClusterResponder, PerformPower, ReleaseNode
from pserv.rpc.common import VERSION, AuthenticationFailed, InvalidRequest, NotAuthenticated, version_mismatch
from pserv.rpc.messages import (
    ActionReports, AdoptRequest, CancelRequest, ObservedState, PowerRequest, RecoveryNode, RecoveryQuery, ReleaseRequest,
    ReportsAnswer, StartAsk, StartsAnswer,
)
from pserv.rpc.protocol import GuardedAMP, command_names, describe_peer, empty
from pserv.rpc.region import (
    MAX_ASKS, Authenticate, Heartbeat, Prove, Recover, ReportActions, ReportPowerStates, TakeStarts,
)
from pserv.rpc.session import SessionInput, SessionState

log = Logger()

#: How many nodes the cluster asks for per recovery page.
RECOVERY_PAGE = 200


class ClusterRPC(GuardedAMP):
    """
    The cluster's end: authenticates on connect, then answers the region's
    commands through ``responder`` and offers the cluster's reports.

    :param name: the cluster's name.
    :param channel: gives what to bind the handshake to from the transport:
        the region certificate's fingerprint (:func:`~pserv.rpc.tls.peer_fingerprint`).
    """

    served = command_names([PerformPower, CancelAction, ReleaseNode, AdoptNodes])
    # The region may send commands once it has proved itself, before it has
    # answered the cluster's Prove.
    trusting = frozenset([SessionState.REGION_PROVED, SessionState.AUTHENTICATED])
    side = "cluster"

    def __init__(self, responder: ClusterResponder, secret: bytes, name: str,
                 channel: Callable[[Any], bytes], group: str | None = None) -> None:
        super().__init__()
        self.responder = responder
        self.secret = secret
        self.name = name
        self.group = group
        self.channel = channel
        self._waiting: list[Deferred[ClusterRPC]] = []
        self._lost: list[Deferred[None]] = []
        self.lease_answered: Callable[[float | None], Any] | None = None
        """Called with the lease each heartbeat's answer gives, whoever sent the heartbeat."""

    @property
    def authenticated(self) -> bool:
        """Whether both sides have proved the secret."""
        return self.session.authenticated

    def when_ready(self) -> Deferred[ClusterRPC]:
        """
        The ``ready`` Deferred: fires with this connection once both sides
        have authenticated, or fails with why that cannot happen.
        """
        if self.authenticated:
            return succeed(self)
        if not self.session.open:
            return fail(self.session.why or NotAuthenticated("the connection is closed"))
        self._waiting.append(Deferred())
        return self._waiting[-1]

    def when_lost(self) -> Deferred[None]:
        """Fires once the connection is gone."""
        if self.gone:
            return succeed(None)
        self._lost.append(Deferred())
        return self._lost[-1]

    def connectionMade(self) -> None:
        super().connectionMade()
        nonce = auth.new_nonce()
        self.session.fire(SessionInput.CHALLENGE, self.name, nonce)
        asked = self.callRemote(Authenticate, cluster=self.name, cluster_nonce=nonce, version=VERSION,
                                group=self.group)
        asked.addCallback(self._check_region, nonce).addErrback(self._handshake_failed)

    def _check_region(self, answer: dict[str, Any], cluster_nonce: bytes) -> Deferred[Any] | None:
        if not self.session.allows(SessionInput.REGION_PROVED):
            return None  # refused meanwhile: the connection is going
        mismatch = version_mismatch(answer["version"], "cluster", "region")
        if mismatch is not None:
            raise mismatch
        region_nonce = answer["region_nonce"]
        try:
            channel = self.channel(self.transport)
        except ValueError as e:
            raise AuthenticationFailed(f"no channel to bind to: {e}") from None
        expected = auth.region_proof(self.secret, self.name, cluster_nonce, region_nonce, channel)
        if not auth.valid_nonce(region_nonce) or not auth.proofs_match(expected, answer["region_proof"]):
            raise AuthenticationFailed(
                "the region failed to prove the shared secret (wrong secret, or a relay in between)")
        self.session.fire(SessionInput.REGION_PROVED)
        proof = auth.cluster_proof(self.secret, self.name, region_nonce, cluster_nonce, channel)
        return self.callRemote(Prove, cluster_proof=proof).addCallback(self._proved)

    def _proved(self, _: Any) -> None:
        if not self.session.allows(SessionInput.CLUSTER_PROVED):
            return
        self.session.fire(SessionInput.CLUSTER_PROVED)
        log.info("cluster {cluster}: authenticated to the region at {peer}",
                 cluster=self.name, peer=describe_peer(self.transport))
        self._waiting, waiting = [], self._waiting
        for d in waiting:
            d.callback(self)

    def _handshake_failed(self, failure: Failure) -> None:
        if self.session.open:
            log.warn("cluster {cluster}: handshake with the region at {peer} failed: {why}; disconnecting",
                     cluster=self.name, peer=describe_peer(self.transport), why=failure.getErrorMessage())
            self.session.fire(SessionInput.CLOSE, failure)
        self.close()
        self._release(failure)

    def _release(self, failure: Failure) -> None:
        self._waiting, waiting = [], self._waiting
        for d in waiting:
            d.errback(self.session.why or failure)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.session.handshaking:
            log.warn("cluster {cluster}: lost the region at {peer} during the handshake: {why}",
                     cluster=self.name, peer=describe_peer(self.transport), why=reason.getErrorMessage())
        self.session.fire(SessionInput.CLOSE, reason)
        super().connectionLost(reason)
        self._release(reason)
        self._lost, lost = [], self._lost
        for d in lost:
            d.callback(None)

    @PerformPower.responder
    def _perform_power(self, requests: tuple[PowerRequest, ...]) -> Deferred[dict[str, Any]]:
        return self._answer("perform_power", self._perform_each, requests).addCallback(empty)

    def _perform_each(self, requests: tuple[PowerRequest, ...]) -> None:
        for request in requests:
            self.responder.perform_power(request)

    @CancelAction.responder
    def _cancel_action(self, cancel: CancelRequest) -> Deferred[dict[str, Any]]:
        answered = self._answer("cancel_action", self.responder.cancel_action, cancel)
        return answered.addCallback(lambda known: {"known": bool(known)})

    @ReleaseNode.responder
    def _release_node(self, release: ReleaseRequest) -> Deferred[dict[str, Any]]:
        return self._answer("release_node", self.responder.release_node, release).addCallback(empty)

    @AdoptNodes.responder
    def _adopt_nodes(self, adopt: AdoptRequest) -> Deferred[dict[str, Any]]:
        return self._answer("adopt_nodes", self.responder.adopt_nodes, adopt).addCallback(empty)

    def _call(self, command: type[amp.Command], **arguments: Any) -> Deferred[Any]:
        if self.session.state is not SessionState.AUTHENTICATED:
            return fail(NotAuthenticated("not authenticated to the region"))
        return maybeDeferred(self.callRemote, command, **arguments)

    def recover_all(self, limit: int = RECOVERY_PAGE) -> Deferred[list[RecoveryNode]]:
        """
        Everything outstanding for this cluster's nodes, page after page.

        :raises InvalidRequest: (in the Deferred) for a malformed page, or
            one that does not advance.
        """
        return Deferred.fromCoroutine(self._recover_all(limit))

    async def _recover_all(self, limit: int) -> list[RecoveryNode]:
        nodes: list[RecoveryNode] = []
        after: int | None = None
        while True:
            page = (await self._call(Recover, query=RecoveryQuery(after=after, limit=limit)))["page"]
            nodes.extend(page.nodes)
            if page.next is None:
                return nodes
            if after is not None and page.next <= after:
                raise InvalidRequest(f"recovery did not advance past node {after}")
            after = page.next

    def report_actions(self, reports: ActionReports) -> Deferred[ReportsAnswer]:
        """Send reports on actions; fires with the region's answer."""
        return self._call(ReportActions, reports=reports).addCallback(lambda r: r["answer"])

    def report_power_states(self, states: Sequence[ObservedState]) -> Deferred[None]:
        """
        Report observed power states, in as many ``ReportPowerStates`` as
        it takes to fit each in one AMP value (sent together, in order).

        :raises TooLarge: (in the Deferred) for a state too big to send alone.
        :raises InvalidRequest: (in the Deferred) if the region refuses a batch.
        """
        return Deferred.fromCoroutine(self._report_power_states(states))

    async def _report_power_states(self, states: Sequence[ObservedState]) -> None:
        sent = [self._call(ReportPowerStates, states=tuple(batch)) for batch in split_to_fit(states)]
        for ok, result in await DeferredList(sent, consumeErrors=True):
            if not ok:
                result.raiseException()

    def take_starts(self, asks: Sequence[StartAsk]) -> Deferred[StartsAnswer]:
        """
        Ask which of ``asks`` may send their power-on now, in as many
        ``TakeStarts`` of at most :data:`~pserv.rpc.region.MAX_ASKS` as it
        takes (sent together); fires with their answers as one.
        """
        return Deferred.fromCoroutine(self._take_starts(asks))

    async def _take_starts(self, asks: Sequence[StartAsk]) -> StartsAnswer:
        calls = [self._call(TakeStarts, asks=tuple(asks[i:i + MAX_ASKS])) for i in range(0, len(asks), MAX_ASKS)]
        answers = []
        for ok, result in await DeferredList(calls, consumeErrors=True):
            if not ok:
                result.raiseException()
            answers.append(result["answer"])
        return StartsAnswer(
            granted=tuple(a for answer in answers for a in answer.granted),
            waiting=tuple(w for answer in answers for w in answer.waiting),
            refused=tuple(a for answer in answers for a in answer.refused),
            retry_after=min((answer.retry_after for answer in answers), default=1.0),
        )

    def heartbeat(self) -> Deferred[float | None]:
        """Send a heartbeat; fires when the region answers, with the seconds the cluster's lease now runs."""
        return self._call(Heartbeat).addCallback(self._answered)

    def _answered(self, answer: dict[str, Any]) -> float | None:
        lease = answer.get("lease")
        if self.lease_answered is not None:
            self.lease_answered(lease)
        return lease
