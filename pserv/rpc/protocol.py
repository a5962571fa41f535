"""
The AMP protocols of each end: :class:`RegionRPC` (the region's end of one
cluster's connection) and :class:`ClusterRPC` (the cluster's end).

Both refuse every command but the handshake until it has completed: the
refusal is a fatal error, so the connection drops, and the refused command
is not executed.  Once refused or failed, a connection stays refused.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable

from twisted.internet.defer import Deferred, DeferredList, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from pserv.rpc import auth, shapes
from pserv.rpc.arguments import MAX_VALUE, fitting_prefix, item_sizes, split_to_fit
from pserv.rpc.cluster import CancelAction, ClusterResponder, PerformPower
from pserv.rpc.common import AuthenticationFailed, CommandFailed, InvalidRequest, NotAuthenticated
from pserv.rpc.region import (
    MAX_PAGE, Authenticate, Heartbeat, Prove, Recover, RegionResponder, ReportOutcome,
    ReportPowerStates, ReportProgress, ReportRunning,
)
from pserv.rpc.tls import ensure_certificate

log = Logger()

#: How many nodes the cluster asks for per recovery page.
RECOVERY_PAGE = 200


class Session(Enum):
    """Where a connection's handshake stands."""

    NEW = "new"
    CHALLENGED = "challenged"  # region: nonces exchanged; cluster: region proved
    TRUSTED = "trusted"
    CLOSED = "closed"


def describe_peer(transport: Any) -> str:
    """``host:port`` of the peer, for log lines."""
    peer = transport.getPeer() if transport is not None else None
    host, port = getattr(peer, "host", None), getattr(peer, "port", None)
    return f"{host}:{port}" if host is not None else str(peer)


def _names(commands: Iterable[type[amp.Command]]) -> frozenset[bytes]:
    return frozenset(command.commandName for command in commands)


class GuardedAMP(amp.AMP):
    """
    AMP that answers only ``served`` commands, and only once ``trusted``,
    but for the ``handshake`` ones.

    :ivar gone: whether the connection is lost.
    """

    served: frozenset[bytes] = frozenset()
    handshake: frozenset[bytes] = frozenset()
    side = "peer"

    def __init__(self) -> None:
        super().__init__()
        self.session = Session.NEW
        self.gone = False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.gone = True
        super().connectionLost(reason)

    @property
    def trusted(self) -> bool:
        """Whether the peer has proved it knows the secret."""
        return self.session is Session.TRUSTED

    def locateResponder(self, name: bytes) -> Any:
        if name in self.handshake and self.session is not Session.CLOSED:
            return super().locateResponder(name)
        if not self.trusted:
            return self._refuse
        return super().locateResponder(name) if name in self.served else None

    def _refuse(self, box: amp.AmpBox) -> Deferred[Any]:
        if self.session is not Session.CLOSED:
            command = box.get(amp.COMMAND, b"?").decode("ascii", "replace")[:64]
            log.warn("{side} refused {command!r} before the handshake from {peer}; disconnecting",
                     side=self.side, command=command, peer=describe_peer(self.transport))
        self.session = Session.CLOSED
        if amp.ASK not in box:
            self.transport.loseConnection()
        return fail(amp.RemoteAmpError(b"NOT_AUTHENTICATED", "complete the handshake first", fatal=True))

    def _answer(self, what: str, call: Callable[..., Any], *args: Any) -> Deferred[Any]:
        """Call a responder method; failures other than ours become ``CommandFailed``."""
        return maybeDeferred(call, *args).addErrback(self._failed, what)

    def _failed(self, failure: Failure, what: str) -> Failure:
        if failure.check(InvalidRequest, CommandFailed):
            return failure
        log.failure("{side}: {what} failed", failure, side=self.side, what=what)
        return Failure(CommandFailed(f"{what} failed on the {self.side}; see its log"))

    def close(self) -> None:
        """Refuse everything from now on and drop the connection."""
        self.session = Session.CLOSED
        if self.transport is not None and not self.gone:
            self.transport.loseConnection()

    def abort(self) -> None:
        """Refuse everything from now on and drop the connection at once."""
        self.session = Session.CLOSED
        if self.transport is not None and not self.gone:
            self.transport.abortConnection()


class RegionRPC(GuardedAMP):
    """
    The region's end of one cluster's connection.  Built by
    :class:`RegionRPCFactory`; it is also the ``connection`` the responder
    gets in ``cluster_connected``.

    :ivar cluster: the authenticated cluster's name, else ``None``.
    """

    served = _names([Recover, ReportRunning, ReportProgress, ReportOutcome, ReportPowerStates, Heartbeat])
    handshake = _names([Authenticate, Prove])
    side = "region"
    factory: RegionRPCFactory

    def __init__(self) -> None:
        super().__init__()
        self.cluster: str | None = None
        self._claimed = ""
        self._nonces = (b"", b"")
        self._timer: Any = None

    @property
    def responder(self) -> RegionResponder:
        """The region's responder."""
        return self.factory.responder

    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.live.add(self)
        self._arm(self.factory.handshake_timeout, "completed no handshake")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)
        self.session = Session.CLOSED
        self._disarm()
        if self.cluster is not None and self.factory.connections.get(self.cluster) is self:
            del self.factory.connections[self.cluster]
            told = self._answer("cluster_disconnected", self.responder.cluster_disconnected, self.cluster)
            told.addErrback(lambda _: None)
        self.factory.forget(self)

    def ampBoxReceived(self, box: amp.AmpBox) -> None:
        if self.trusted:
            self._arm(self.factory.idle_timeout, "sent nothing in time")
        super().ampBoxReceived(box)

    def _arm(self, seconds: float, why: str) -> None:
        self._disarm()
        self._timer = self.factory.clock.callLater(seconds, self._expire, why)

    def _disarm(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _expire(self, why: str) -> None:
        self._timer = None
        log.warn("cluster {cluster} at {peer} {why}; disconnecting",
                 cluster=self.cluster or "(unauthenticated)", peer=describe_peer(self.transport), why=why)
        self.abort()

    @Authenticate.responder
    def _authenticate(self, cluster: str, cluster_nonce: bytes) -> dict[str, bytes]:
        self._claimed = cluster[:64]
        if self.session is not Session.NEW:
            self._fail_handshake("sent Authenticate twice")
        if not auth.CLUSTER_NAME.match(cluster) or not auth.valid_nonce(cluster_nonce):
            self._fail_handshake("sent a bad name or nonce")
        region_nonce = auth.new_nonce()
        self._nonces = (cluster_nonce, region_nonce)
        self.session = Session.CHALLENGED
        proof = auth.region_proof(self.factory.secret, cluster, cluster_nonce, region_nonce, self.factory.channel)
        return {"region_nonce": region_nonce, "region_proof": proof}

    @Prove.responder
    def _prove(self, cluster_proof: bytes) -> dict[str, Any]:
        if self.session is not Session.CHALLENGED:
            self._fail_handshake("sent Prove out of turn")
        cluster_nonce, region_nonce = self._nonces
        factory = self.factory
        expected = auth.cluster_proof(factory.secret, self._claimed, region_nonce, cluster_nonce, factory.channel)
        if not auth.proofs_match(expected, cluster_proof):
            self._fail_handshake("failed to prove the shared secret (wrong secret, or a relay in between)")
        self.session = Session.TRUSTED
        self.cluster = self._claimed
        self._arm(self.factory.idle_timeout, "sent nothing in time")
        self.factory.register(self)
        return {}

    def _fail_handshake(self, why: str) -> None:
        log.warn("cluster {cluster!r} at {peer} {why}; disconnecting",
                 cluster=self._claimed, peer=describe_peer(self.transport), why=why)
        self.session = Session.CLOSED
        raise AuthenticationFailed("authentication failed")

    @Recover.responder
    def _recover(self, after: int | None, limit: int) -> Deferred[dict[str, Any]]:
        if not 1 <= limit <= MAX_PAGE or (after is not None and after < 0):
            raise InvalidRequest(f"limit: must be 1 to {MAX_PAGE}; after: must not be negative")
        asked = maybeDeferred(self.responder.recover, self.cluster, after, limit)
        return asked.addCallback(fit_page).addErrback(self._failed, "recover")

    @ReportRunning.responder
    def _report_running(self, action: int) -> Deferred[dict[str, Any]]:
        return self._answer("report_running", self.responder.report_running, self.cluster, action).addCallback(_empty)

    @ReportProgress.responder
    def _report_progress(self, action: int, progress: str) -> Deferred[dict[str, Any]]:
        answered = self._answer("report_progress", self.responder.report_progress, self.cluster, action, progress)
        return answered.addCallback(_empty)

    @ReportOutcome.responder
    def _report_outcome(self, outcome: dict[str, Any]) -> Deferred[dict[str, Any]]:
        shapes.check_outcome(outcome)
        answered = self._answer("report_outcome", self.responder.report_outcome, self.cluster, outcome)
        return answered.addCallback(lambda applied: {"applied": bool(applied)})

    @ReportPowerStates.responder
    def _report_power_states(self, states: list[Any]) -> Deferred[dict[str, Any]]:
        for state in states:
            shapes.check_observed_state(state)
        answered = self._answer("report_power_states", self.responder.report_power_states, self.cluster, states)
        return answered.addCallback(_empty)

    @Heartbeat.responder
    def _heartbeat(self) -> Deferred[dict[str, Any]]:
        return self._answer("heartbeat", self.responder.heartbeat, self.cluster).addCallback(_empty)

    def perform_power(self, request: dict[str, Any]) -> Deferred[None]:
        """
        Send the cluster a power request; fires once it has accepted it.

        :raises InvalidRequest: (in the Deferred) for a malformed request.
        """
        try:
            shapes.check_power_request(request)
        except InvalidRequest:
            return fail()
        return self._send(PerformPower, request=request).addCallback(lambda _: None)

    def cancel_action(self, node: int, action: int) -> Deferred[bool]:
        """Ask the cluster to cancel an action; fires with whether it knew it."""
        return self._send(CancelAction, node=node, action=action).addCallback(lambda r: r["known"])

    def disconnect(self) -> None:
        """Drop this cluster's connection."""
        self.close()

    def _send(self, command: type[amp.Command], **arguments: Any) -> Deferred[Any]:
        if not self.trusted:
            return fail(NotAuthenticated("the cluster has not authenticated"))
        return maybeDeferred(self.callRemote, command, **arguments)


def _empty(_: Any) -> dict[str, Any]:
    return {}


def fit_page(page: dict[str, Any]) -> dict[str, Any]:
    """
    A recovery page cut to fit one AMP value: when the nodes do not all
    fit, send those that do and make ``next`` the last one's id.

    :raises CommandFailed: if the first node alone does not fit.
    """
    nodes, following = list(page["nodes"]), page.get("next")
    count = fitting_prefix(item_sizes(nodes), MAX_VALUE)
    if count == 0 and nodes:
        raise CommandFailed(f"node {nodes[0].get('node')}: its recovery entry does not fit in one AMP value")
    if count < len(nodes):
        nodes, following = nodes[:count], nodes[count - 1]["node"]
    return {"nodes": nodes, "next": following}


class RegionRPCFactory(Factory):
    """
    Builds :class:`RegionRPC` for each cluster connection, and keeps the
    authenticated connection of each cluster: a cluster that authenticates
    again replaces (and drops) its older connection, and the responder
    hears ``cluster_disconnected`` only when its current connection goes.

    :param channel: what the region binds handshakes to: its certificate's
        SHA-256 fingerprint.
    :param clock: times the handshake and idle deadlines.
    :param handshake_timeout: seconds a new connection has to authenticate.
    :param idle_timeout: seconds an authenticated cluster may stay silent
        (it heartbeats more often than that).
    """

    protocol = RegionRPC

    def __init__(self, responder: RegionResponder, secret: bytes, channel: bytes, clock: IReactorTime,
                 handshake_timeout: float = 30.0, idle_timeout: float = 60.0) -> None:
        self.responder = responder
        self.secret = secret
        self.channel = channel
        self.clock = clock
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.connections: dict[str, RegionRPC] = {}
        self.live: set[RegionRPC] = set()
        self._gone: list[Deferred[None]] = []

    def disconnect_all(self) -> Deferred[None]:
        """Drop every connection (when the region stops); fires once all are gone."""
        for rpc in list(self.live):
            rpc.abort()
        if not self.live:
            return succeed(None)
        self._gone.append(Deferred())
        return self._gone[-1]

    def forget(self, rpc: RegionRPC) -> None:
        """``rpc``'s connection is gone."""
        self.live.discard(rpc)
        if not self.live:
            self._gone, gone = [], self._gone
            for d in gone:
                d.callback(None)

    def register(self, rpc: RegionRPC) -> None:
        """Make ``rpc`` its cluster's connection, and tell the responder."""
        name = rpc.cluster
        assert name is not None
        older = self.connections.get(name)
        self.connections[name] = rpc
        if older is not None and older is not rpc:
            log.info("cluster {cluster} connected again from {peer}; dropping its older connection",
                     cluster=name, peer=describe_peer(rpc.transport))
            older.close()
        connected = rpc._answer("cluster_connected", self.responder.cluster_connected, name, rpc)
        connected.addErrback(lambda _: rpc.close())


class ClusterRPC(GuardedAMP):
    """
    The cluster's end: authenticates on connect, then answers the region's
    commands through ``responder`` and offers the cluster's reports.

    :param name: the cluster's name.
    :param channel: gives what to bind the handshake to from the transport:
        the region certificate's fingerprint (:func:`~pserv.rpc.tls.peer_fingerprint`).
    :ivar authenticated: whether both sides have proved the secret.
    """

    served = _names([PerformPower, CancelAction])
    side = "cluster"

    def __init__(self, responder: ClusterResponder, secret: bytes, name: str,
                 channel: Callable[[Any], bytes]) -> None:
        super().__init__()
        self.responder = responder
        self.secret = secret
        self.name = name
        self.channel = channel
        self.authenticated = False
        self._waiting: list[Deferred[ClusterRPC]] = []
        self._lost: list[Deferred[None]] = []
        self._failure: Failure | None = None

    @property
    def trusted(self) -> bool:
        """Whether the region has proved it knows the secret (it may then send commands)."""
        return self.session in (Session.CHALLENGED, Session.TRUSTED)

    def when_ready(self) -> Deferred[ClusterRPC]:
        """
        The ``ready`` Deferred: fires with this connection once both sides
        have authenticated, or fails with why that cannot happen.
        """
        if self.authenticated:
            return succeed(self)
        if self.session is Session.CLOSED:
            return fail(self._failure or NotAuthenticated("the connection is closed"))
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
        asked = self.callRemote(Authenticate, cluster=self.name, cluster_nonce=nonce)
        asked.addCallback(self._check_region, nonce).addErrback(self._handshake_failed)

    def _check_region(self, answer: dict[str, bytes], cluster_nonce: bytes) -> Deferred[Any]:
        region_nonce = answer["region_nonce"]
        try:
            channel = self.channel(self.transport)
        except ValueError as e:
            raise AuthenticationFailed(f"no channel to bind to: {e}") from None
        expected = auth.region_proof(self.secret, self.name, cluster_nonce, region_nonce, channel)
        if not auth.valid_nonce(region_nonce) or not auth.proofs_match(expected, answer["region_proof"]):
            raise AuthenticationFailed(
                "the region failed to prove the shared secret (wrong secret, or a relay in between)")
        self.session = Session.CHALLENGED
        proof = auth.cluster_proof(self.secret, self.name, region_nonce, cluster_nonce, channel)
        return self.callRemote(Prove, cluster_proof=proof).addCallback(self._proved)

    def _proved(self, _: Any) -> None:
        if self.session is not Session.CHALLENGED:
            return
        self.session = Session.TRUSTED
        self.authenticated = True
        log.info("cluster {cluster}: authenticated to the region at {peer}",
                 cluster=self.name, peer=describe_peer(self.transport))
        self._waiting, waiting = [], self._waiting
        for d in waiting:
            d.callback(self)

    def _handshake_failed(self, failure: Failure) -> None:
        if self.session is not Session.CLOSED:
            log.warn("cluster {cluster}: handshake with the region at {peer} failed: {why}; disconnecting",
                     cluster=self.name, peer=describe_peer(self.transport), why=failure.getErrorMessage())
            self._failure = failure
        self.close()
        self._release(failure)

    def _release(self, failure: Failure) -> None:
        self._waiting, waiting = [], self._waiting
        for d in waiting:
            d.errback(self._failure or failure)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.authenticated and self.session is not Session.CLOSED:
            log.warn("cluster {cluster}: lost the region at {peer} during the handshake: {why}",
                     cluster=self.name, peer=describe_peer(self.transport), why=reason.getErrorMessage())
            self._failure = reason
        self.session = Session.CLOSED
        super().connectionLost(reason)
        self._release(reason)
        self._lost, lost = [], self._lost
        for d in lost:
            d.callback(None)

    @PerformPower.responder
    def _perform_power(self, request: dict[str, Any]) -> Deferred[dict[str, Any]]:
        shapes.check_power_request(request)
        return self._answer("perform_power", self.responder.perform_power, request).addCallback(_empty)

    @CancelAction.responder
    def _cancel_action(self, node: int, action: int) -> Deferred[dict[str, Any]]:
        answered = self._answer("cancel_action", self.responder.cancel_action, node, action)
        return answered.addCallback(lambda known: {"known": bool(known)})

    def _call(self, command: type[amp.Command], **arguments: Any) -> Deferred[Any]:
        if self.session is not Session.TRUSTED:
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


def region_rpc_factory(responder: RegionResponder, secret: bytes, certificate_dir: Path | str,
                       clock: IReactorTime | None = None, **timeouts: float) -> TLSMemoryBIOFactory:
    """
    What the region listens with: TLS with its certificate (made once in
    ``certificate_dir``) around a :class:`RegionRPCFactory`, which is the
    result's ``wrappedFactory``.

    :param timeouts: ``handshake_timeout``, ``idle_timeout`` (seconds).
    """
    if clock is None:
        from twisted.internet import reactor as clock  # type: ignore[assignment]
    certificate = ensure_certificate(certificate_dir)
    factory = RegionRPCFactory(responder, secret, certificate.fingerprint, clock, **timeouts)
    return TLSMemoryBIOFactory(certificate.options, False, factory)
