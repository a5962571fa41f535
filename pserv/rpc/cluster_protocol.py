"""
The cluster's end of its connection to the region (:class:`ClusterRPC`).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from pserv.rpc import auth, shapes
from pserv.rpc.arguments import split_to_fit
from pserv.rpc.cluster import CancelAction, ClusterResponder, PerformPower
from pserv.rpc.common import AuthenticationFailed, InvalidRequest, NotAuthenticated
from pserv.rpc.protocol import GuardedAMP, command_names, describe_peer, empty
from pserv.rpc.region import (
    Authenticate, Heartbeat, Prove, Recover, ReportOutcome, ReportPowerStates, ReportProgress,
    ReportRunning,
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

    served = command_names([PerformPower, CancelAction])
    # The region may send commands once it has proved itself, before it has
    # answered the cluster's Prove.
    trusting = frozenset([SessionState.REGION_PROVED, SessionState.AUTHENTICATED])
    side = "cluster"

    def __init__(self, responder: ClusterResponder, secret: bytes, name: str,
                 channel: Callable[[Any], bytes]) -> None:
        super().__init__()
        self.responder = responder
        self.secret = secret
        self.name = name
        self.channel = channel
        self._waiting: list[Deferred[ClusterRPC]] = []
        self._lost: list[Deferred[None]] = []

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
        asked = self.callRemote(Authenticate, cluster=self.name, cluster_nonce=nonce)
        asked.addCallback(self._check_region, nonce).addErrback(self._handshake_failed)

    def _check_region(self, answer: dict[str, bytes], cluster_nonce: bytes) -> Deferred[Any] | None:
        if not self.session.allows(SessionInput.REGION_PROVED):
            return None  # refused meanwhile: the connection is going
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
    def _perform_power(self, request: dict[str, Any]) -> Deferred[dict[str, Any]]:
        shapes.check_power_request(request)
        return self._answer("perform_power", self.responder.perform_power, request).addCallback(empty)

    @CancelAction.responder
    def _cancel_action(self, node: int, action: int) -> Deferred[dict[str, Any]]:
        answered = self._answer("cancel_action", self.responder.cancel_action, node, action)
        return answered.addCallback(lambda known: {"known": bool(known)})

    def _call(self, command: type[amp.Command], **arguments: Any) -> Deferred[Any]:
        if self.session.state is not SessionState.AUTHENTICATED:
            return fail(NotAuthenticated("not authenticated to the region"))
        return maybeDeferred(self.callRemote, command, **arguments)

    def recover_all(self, limit: int = RECOVERY_PAGE) -> Deferred[list[dict[str, Any]]]:
        """
        Everything outstanding for this cluster's nodes, page after page.

        :raises InvalidRequest: (in the Deferred) for a malformed entry or
            a page that does not advance.
        """
        return Deferred.fromCoroutine(self._recover_all(limit))

    async def _recover_all(self, limit: int) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = []
        after: int | None = None
        while True:
            page = await self._call(Recover, after=after, limit=limit)
            nodes.extend(shapes.check_recovery_node(node) for node in page["nodes"])
            following = page["next"]
            if following is None:
                return nodes
            if after is not None and following <= after:
                raise InvalidRequest(f"recovery did not advance past node {after}")
            after = following

    def report_running(self, action: int) -> Deferred[None]:
        """Tell the region ``action`` started running."""
        return self._call(ReportRunning, action=action).addCallback(lambda _: None)

    def report_progress(self, action: int, progress: str) -> Deferred[None]:
        """Tell the region ``action`` reached the step ``progress``."""
        return self._call(ReportProgress, action=action, progress=progress).addCallback(lambda _: None)

    def report_outcome(self, outcome: dict[str, Any]) -> Deferred[bool]:
        """Report an outcome; fires with whether the region applied it."""
        try:
            shapes.check_outcome(outcome)
        except InvalidRequest:
            return fail()
        return self._call(ReportOutcome, outcome=outcome).addCallback(lambda r: r["applied"])

    def report_power_states(self, states: list[dict[str, Any]]) -> Deferred[None]:
        """
        Report observed power states, in as many ``ReportPowerStates`` as
        it takes to fit each in one AMP value (sent together, in order).

        :raises InvalidRequest, TooLarge: (in the Deferred) for a malformed
            state, or one too big to send alone.
        """
        return Deferred.fromCoroutine(self._report_power_states(states))

    async def _report_power_states(self, states: list[dict[str, Any]]) -> None:
        for state in states:
            shapes.check_observed_state(state)
        sent = [self._call(ReportPowerStates, states=batch) for batch in split_to_fit(states)]
        for ok, result in await DeferredList(sent, consumeErrors=True):
            if not ok:
                result.raiseException()

    def heartbeat(self) -> Deferred[None]:
        """Send a heartbeat; fires when the region answers."""
        return self._call(Heartbeat).addCallback(lambda _: None)
