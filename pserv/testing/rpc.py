"""
Fakes and helpers for the RPC tests: responders that record calls, a
sample of each message, in-memory connections, peers from before protocol
versions, log capture.
"""

from __future__ import annotations

import bisect
import contextlib
from datetime import datetime, timezone
from typing import Any, Iterator

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.protocols import amp
from twisted.test import iosim

from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.rpc import auth
from pserv.rpc.cluster_protocol import ClusterRPC
from pserv.rpc.common import AuthenticationFailed, NotAuthenticated
from pserv.rpc.messages import (
    ActionReports, AdoptRequest, CancelRequest, ObservedState, OutcomeReport, PowerRequest, RecoveryAction, RecoveryNode,
    RecoveryPage, RecoveryQuery, ReleaseRequest, ReportsAnswer, StartAsk, StartsAnswer,
)
from pserv.rpc.region import Prove
from pserv.rpc.region_protocol import RegionRPC, RegionRPCFactory

SECRET = b"0123456789abcdef" * 4
WRONG_SECRET = b"fedcba9876543210" * 4
CHANNEL = b"in-memory channel"


def recovery_node(node: int, actions: int = 1) -> RecoveryNode:
    """A recovery entry, its settings holding a password."""
    return RecoveryNode(
        node=node, name=f"node-{node}", power_type="ipmi",
        power_parameters={"address": f"10.0.{node // 256 % 256}.{node % 256}", "password": "hunter2"},
        desired_power_state=PowerState.ON, generation=3,
        actions=tuple(
            RecoveryAction(id=node * 10 + i, kind=ActionKind.ON, generation=3, status=ActionStatus.SENT,
                           progress=None, cancel_requested=False)
            for i in range(actions)
        ),
    )


def power_request(action: int = 7, node: int = 1) -> PowerRequest:
    """A power request, its settings holding a password."""
    return PowerRequest(action=action, node=node, name=f"node-{node}", kind=ActionKind.CYCLE, generation=4,
                        power_type="redfish", power_parameters={"address": "bmc", "password": "s3cret"})


def outcome(action: int = 7) -> OutcomeReport:
    """The outcome of a cycle that ended on."""
    return OutcomeReport(action=action, node=1, status=ActionStatus.DONE, generation=4, power_state=PowerState.ON,
                         error=None, fatal=False, superseded_by=None, commands=("power_off", "power_on"))


def observed(node: int, error: str | None = None) -> ObservedState:
    """A power state observed off, or (with ``error``) a failed read."""
    return ObservedState(node=node, power_state=PowerState.ERROR if error else PowerState.OFF, error=error,
                         observed_at=datetime(2026, 5, 1, 12, tzinfo=timezone.utc))


class RecordingRegion:
    """A RegionResponder that records every call and answers from ``nodes``."""

    def __init__(self, nodes: list[RecoveryNode] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.nodes = sorted(nodes or [], key=lambda n: n.node)
        self.connections: dict[str, Any] = {}
        self.applied = True
        self.heartbeats: Deferred[None] | float | None = None
        """What a heartbeat answers: nothing, a lease, or a Deferred the test fires."""

    def cluster_connected(self, name: str, connection: Any) -> None:
        self.calls.append(("cluster_connected", name))
        self.connections[name] = connection

    def cluster_disconnected(self, name: str) -> None:
        self.calls.append(("cluster_disconnected", name))

    def recover(self, cluster: str, query: RecoveryQuery) -> RecoveryPage:
        self.calls.append(("recover", cluster, query))
        ids = [n.node for n in self.nodes]
        start = 0 if query.after is None else bisect.bisect_right(ids, query.after)
        page = self.nodes[start:start + query.limit]
        more = start + query.limit < len(self.nodes)
        return RecoveryPage(nodes=tuple(page), next=page[-1].node if more else None)

    def report_actions(self, cluster: str, reports: ActionReports) -> ReportsAnswer:
        self.calls.append(("report_actions", cluster, reports))
        return ReportsAnswer(applied=tuple(o.action for o in reports.outcomes) if self.applied else ())

    def report_power_states(self, cluster: str, states: tuple[ObservedState, ...]) -> None:
        self.calls.append(("report_power_states", cluster, states))

    def heartbeat(self, cluster: str) -> Deferred[None] | float | None:
        self.calls.append(("heartbeat", cluster))
        return self.heartbeats

    def take_starts(self, cluster: str, asks: tuple[StartAsk, ...]) -> StartsAnswer:
        """Every action asking may start."""
        self.calls.append(("take_starts", cluster, asks))
        return StartsAnswer(granted=tuple(ask.action for ask in asks))

    def names(self) -> list[str]:
        """The names of the methods called, in order."""
        return [call[0] for call in self.calls]


class RecordingCluster:
    """A ClusterResponder that records every call."""

    def __init__(self, known: bool = True) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.known = known

    def perform_power(self, request: PowerRequest) -> None:
        self.calls.append(("perform_power", request))

    def cancel_action(self, cancel: CancelRequest) -> bool:
        self.calls.append(("cancel_action", cancel))
        return self.known

    def release_node(self, release: ReleaseRequest) -> None:
        self.calls.append(("release_node", release))

    def adopt_nodes(self, adopt: AdoptRequest) -> None:
        self.calls.append(("adopt_nodes", adopt))


class InMemory:
    """
    A region factory and a cluster connected in memory by an ``iosim``
    pump, on a ``Clock``.
    """

    def __init__(self, region_secret: bytes = SECRET, cluster_secret: bytes = SECRET,
                 name: str = "rack-1", region: RecordingRegion | None = None,
                 cluster_channel: bytes = CHANNEL, group: str | None = None) -> None:
        self.clock = Clock()
        self.region = region or RecordingRegion()
        self.cluster = RecordingCluster()
        self.factory = RegionRPCFactory(self.region, region_secret, CHANNEL, self.clock)
        self.client, self.server, self.pump = iosim.connectedServerAndClient(
            lambda: self.factory.buildProtocol(None),
            lambda: ClusterRPC(self.cluster, cluster_secret, name, lambda transport: cluster_channel, group),
            greet=False,
        )
        self.client: ClusterRPC
        self.server: RegionRPC

    def flush(self) -> None:
        """Deliver everything in flight, both ways."""
        self.pump.flush()

    def call(self, deferred: Deferred[Any]) -> Any:
        """Flush, then the result of ``deferred`` (raising its failure)."""
        results: list[Any] = []
        deferred.addBoth(results.append)
        self.flush()
        assert results, "no answer after flushing"
        if hasattr(results[0], "raiseException"):
            results[0].raiseException()
        return results[0]


class UnversionedAuthenticate(amp.Command):
    """
    ``Authenticate`` as the releases before protocol versions declared it: no
    version either way, and no ``VERSION_MISMATCH`` among its errors.
    """

    commandName = b"Authenticate"
    arguments = [(b"cluster", amp.Unicode()), (b"cluster_nonce", amp.String())]
    response = [(b"region_nonce", amp.String()), (b"region_proof", amp.String())]
    fatalErrors = {AuthenticationFailed: b"AUTHENTICATION_FAILED", NotAuthenticated: b"NOT_AUTHENTICATED"}


class UnversionedCluster(amp.AMP):
    """
    A cluster from before protocol versions: sends the old ``Authenticate``
    on connection, and keeps what came of it in ``answer``.
    """

    def __init__(self, name: str = "rack-1") -> None:
        super().__init__()
        self.name = name
        self.answer: list[Any] = []

    def connectionMade(self) -> None:
        super().connectionMade()
        asked = self.callRemote(UnversionedAuthenticate, cluster=self.name, cluster_nonce=auth.new_nonce())
        asked.addBoth(self.answer.append)


class UnversionedRegion(amp.AMP):
    """
    A region from before protocol versions: answers the old ``Authenticate``
    with a good proof and no version, and records the commands it gets.
    """

    def __init__(self, secret: bytes = SECRET, channel: bytes = CHANNEL) -> None:
        super().__init__()
        self.secret, self.channel = secret, channel
        self.asked: list[str] = []

    @UnversionedAuthenticate.responder
    def authenticate(self, cluster: str, cluster_nonce: bytes) -> dict[str, bytes]:
        self.asked.append("Authenticate")
        nonce = auth.new_nonce()
        proof = auth.region_proof(self.secret, cluster, cluster_nonce, nonce, self.channel)
        return {"region_nonce": nonce, "region_proof": proof}

    @Prove.responder
    def prove(self, cluster_proof: bytes) -> dict[str, Any]:
        self.asked.append("Prove")
        return {}


@contextlib.contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """Collect every Twisted log event emitted inside the block."""
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


def logged_text(events: list[dict[str, Any]]) -> str:
    """Every event, formatted and as its repr (failures' tracebacks too)."""
    parts = []
    for event in events:
        parts.append(formatEvent(event))
        parts.append(repr(event))
        failure = event.get("log_failure")
        if failure is not None:
            parts.append(failure.getTraceback())
    return "\n".join(parts)


class MemoryEndpoint:
    """
    A client endpoint that connects in memory to a fresh protocol from
    ``server_factory``; ``refuse`` makes attempts fail as refused.
    """

    def __init__(self, server_factory: Any) -> None:
        self.server_factory = server_factory
        self.refuse = False
        self.pumps: list[iosim.IOPump] = []
        self.attempts = 0

    def connect(self, factory: Any) -> Deferred[Any]:
        """Connect a protocol from ``factory`` to a new server protocol."""
        from twisted.internet.defer import fail, succeed
        from twisted.internet.error import ConnectionRefusedError

        self.attempts += 1
        if self.refuse:
            return fail(ConnectionRefusedError("refused in memory"))
        client = factory.buildProtocol(None)
        server = self.server_factory.buildProtocol(None)
        self.pumps.append(iosim.connect(server, iosim.makeFakeServer(server), client,
                                        iosim.makeFakeClient(client), greet=False))
        return succeed(client)

    def flush(self) -> None:
        """Deliver everything in flight on every connection made."""
        for pump in self.pumps:
            pump.flush()


def delays(clock: Clock) -> list[float]:
    """How far ahead each of ``clock``'s pending calls is."""
    return sorted(call.getTime() - clock.seconds() for call in clock.getDelayedCalls())
