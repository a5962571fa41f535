"""
The region's end of each cluster's connection (:class:`RegionRPC`), and the
factory the region listens with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import attrs
from twisted.internet.defer import Deferred, FirstError, fail, gatherResults, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from pserv.rpc import auth, wire
from pserv.rpc.arguments import MAX_VALUE, encode_json, fitting_prefix, item_sizes, split_to_fit
from pserv.rpc.cluster import AdoptNodes, CancelAction, PerformPower, ReleaseNode
from pserv.rpc.common import (
    VERSION, AuthenticationFailed, CommandFailed, InvalidRequest, NotAuthenticated, TooLarge, version_mismatch,
)
from pserv.rpc.messages import (
    ActionReports, AdoptRequest, CancelRequest, ObservedState, PowerRequest, RecoveryPage, RecoveryQuery, ReleaseRequest,
    StartAsk,
)
from pserv.rpc.protocol import GuardedAMP, command_names, describe_peer, empty
from pserv.rpc.region import (
    MAX_ASKS, MAX_PAGE, Authenticate, Heartbeat, Prove, Recover, RegionResponder, ReportActions, ReportPowerStates, TakeStarts,
)
from pserv.rpc.session import SessionInput
from pserv.rpc.tls import ensure_certificate

log = Logger()


class RegionRPC(GuardedAMP):
    """
    The region's end of one cluster's connection.  Built by
    :class:`RegionRPCFactory`; it is also the ``connection`` the responder
    gets in ``cluster_connected``.
    """

    served = command_names([Recover, ReportActions, ReportPowerStates, TakeStarts, Heartbeat])
    handshake = command_names([Authenticate, Prove])
    side = "region"
    factory: RegionRPCFactory

    def __init__(self) -> None:
        super().__init__()
        self._timer: Any = None
        self.group: str | None = None

    @property
    def cluster(self) -> str | None:
        """The authenticated cluster's name, else ``None``."""
        return self.session.cluster if self.session.authenticated else None

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
        self.session.fire(SessionInput.CLOSE, reason)
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
    def _authenticate(self, cluster: str, cluster_nonce: bytes, version: int | None,
                      group: str | None = None) -> dict[str, Any]:
        mismatch = version_mismatch(version, "region", "cluster")
        if mismatch is not None:
            self._fail_handshake(f"is refused: {mismatch}", mismatch, claimed=cluster)
        if not self.session.allows(SessionInput.CHALLENGE):
            self._fail_handshake("sent Authenticate twice", claimed=cluster)
        if not auth.CLUSTER_NAME.match(cluster) or not auth.valid_nonce(cluster_nonce):
            self._fail_handshake("sent a bad name or nonce", claimed=cluster)
        if group is not None and not auth.CLUSTER_NAME.match(group):
            self._fail_handshake("sent a bad group name", claimed=cluster)
        self.group = group
        region_nonce = auth.new_nonce()
        self.session.fire(SessionInput.CHALLENGE, cluster, cluster_nonce, region_nonce)
        proof = auth.region_proof(self.factory.secret, cluster, cluster_nonce, region_nonce, self.factory.channel)
        return {"region_nonce": region_nonce, "region_proof": proof, "version": VERSION}

    @Prove.responder
    def _prove(self, cluster_proof: bytes) -> dict[str, Any]:
        session = self.session
        if not session.allows(SessionInput.CLUSTER_PROVED):
            self._fail_handshake("sent Prove out of turn")
        cluster_nonce, region_nonce = session.nonces
        factory = self.factory
        expected = auth.cluster_proof(factory.secret, session.cluster, region_nonce, cluster_nonce, factory.channel)
        if not auth.proofs_match(expected, cluster_proof):
            self._fail_handshake("failed to prove the shared secret (wrong secret, or a relay in between)")
        session.fire(SessionInput.CLUSTER_PROVED)
        self._arm(self.factory.idle_timeout, "sent nothing in time")
        self.factory.register(self)
        return {}

    def _fail_handshake(self, why: str, error: Exception | None = None, *, claimed: str | None = None) -> None:
        if claimed is None:
            claimed = self.session.cluster or ""
        log.warn("cluster {cluster!r} at {peer} {why}; disconnecting",
                 cluster=claimed[:64], peer=describe_peer(self.transport), why=why)
        self.session.fire(SessionInput.CLOSE)
        raise error or AuthenticationFailed("authentication failed")

    @Recover.responder
    def _recover(self, query: RecoveryQuery) -> Deferred[dict[str, Any]]:
        if not 1 <= query.limit <= MAX_PAGE or (query.after is not None and query.after < 0):
            raise InvalidRequest(f"query: limit must be 1 to {MAX_PAGE}, and after not negative")
        asked = maybeDeferred(self.responder.recover, self.cluster, query)
        return asked.addCallback(lambda page: {"page": fit_page(page)}).addErrback(self._failed, "recover")

    @ReportActions.responder
    def _report_actions(self, reports: ActionReports) -> Deferred[dict[str, Any]]:
        answered = self._answer("report_actions", self.responder.report_actions, self.cluster, reports)
        return answered.addCallback(lambda answer: {"answer": answer})

    @ReportPowerStates.responder
    def _report_power_states(self, states: tuple[ObservedState, ...]) -> Deferred[dict[str, Any]]:
        answered = self._answer("report_power_states", self.responder.report_power_states, self.cluster, states)
        return answered.addCallback(empty)

    @TakeStarts.responder
    def _take_starts(self, asks: tuple[StartAsk, ...]) -> Deferred[dict[str, Any]]:
        if len(asks) > MAX_ASKS:
            raise InvalidRequest(f"asks: at most {MAX_ASKS} in one call")
        answered = self._answer("take_starts", self.responder.take_starts, self.cluster, asks)
        return answered.addCallback(lambda answer: {"answer": answer})

    @Heartbeat.responder
    def _heartbeat(self) -> Deferred[dict[str, Any]]:
        answered = self._answer("heartbeat", self.responder.heartbeat, self.cluster)
        return answered.addCallback(lambda lease: {} if lease is None else {"lease": float(lease)})

    def perform_power(self, requests: Sequence[PowerRequest]) -> Deferred[None]:
        """
        Send the cluster power requests, in as few ``PerformPower`` as fit
        (sent together, in order); fires once it has accepted them all, or
        fails as the first that failed.

        :raises TooLarge: (in the Deferred) for a request too big to send alone.
        """
        try:
            batches = split_to_fit(requests)
        except TooLarge as e:
            return fail(e)
        sent = [self._send(PerformPower, requests=tuple(batch)) for batch in batches]
        return gatherResults(sent, consumeErrors=True).addCallbacks(lambda _: None, _first_failure)

    def cancel_action(self, cancel: CancelRequest) -> Deferred[bool]:
        """Ask the cluster to cancel an action; fires with whether it knew it."""
        return self._send(CancelAction, cancel=cancel).addCallback(lambda r: r["known"])

    def release_node(self, release: ReleaseRequest) -> Deferred[None]:
        """Ask the cluster to give a node up; fires once it has."""
        return self._send(ReleaseNode, release=release).addCallback(lambda _: None)

    def adopt_nodes(self, adopt: AdoptRequest) -> Deferred[None]:
        """Ask the cluster to take nodes on; fires once it has accepted."""
        return self._send(AdoptNodes, adopt=adopt).addCallback(lambda _: None)

    def disconnect(self) -> None:
        """Drop this cluster's connection."""
        self.close()

    def _send(self, command: type[amp.Command], **arguments: Any) -> Deferred[Any]:
        if not self.trusted:
            return fail(NotAuthenticated("the cluster has not authenticated"))
        return maybeDeferred(self.callRemote, command, **arguments)


def _first_failure(failure: Failure) -> Failure:
    """The failure of the first of several calls that failed (what ``gatherResults`` wraps)."""
    return failure.value.subFailure if failure.check(FirstError) else failure


def fit_page(page: RecoveryPage) -> RecoveryPage:
    """
    A recovery page cut to fit one AMP value: when the nodes do not all
    fit, send those that do and make ``next`` the last one's id.

    :raises CommandFailed: if the first node alone does not fit.
    """
    nodes = page.nodes
    # Room for the nodes: what is left of one value around an empty list
    # (its "[]" counted by fitting_prefix) and the largest ``next`` it may get.
    largest = max([page.next or 0, *(node.node for node in nodes)])
    envelope = len(encode_json(wire.unstructure(attrs.evolve(page, nodes=(), next=largest)))) - 2
    count = fitting_prefix(item_sizes(nodes), MAX_VALUE - envelope)
    if count == 0 and nodes:
        raise CommandFailed(f"node {nodes[0].node}: its recovery entry does not fit in one AMP value")
    if count < len(nodes):
        return RecoveryPage(nodes=nodes[:count], next=nodes[count - 1].node)
    return page


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
