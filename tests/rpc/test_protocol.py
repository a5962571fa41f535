"""
Tests for pserv.rpc.protocol and both ends (region_protocol, cluster_protocol), in memory: the handshake, refusals, sessions,
deadlines and how failures are answered.
"""

import os

import attrs
import pytest
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.protocols import amp
from twisted.test import iosim

from pserv.rpc import auth, wire
from pserv.rpc.arguments import MAX_VALUE
from pserv.rpc.cluster import PerformPower
from pserv.rpc.common import VERSION, AuthenticationFailed, CommandFailed, InvalidRequest, NotAuthenticated
from pserv.rpc.cluster_protocol import ClusterRPC
from pserv.rpc.messages import ActionReports, ProgressReport, RecoveryPage, RecoveryQuery, RunningReport
from pserv.rpc.region_protocol import fit_page
from pserv.rpc.region import Authenticate, Heartbeat, Prove, Recover, ReportActions
from pserv.rpc.session import SessionState

from pserv.testing.rpc import (
    CHANNEL, SECRET, WRONG_SECRET, InMemory, RecordingCluster, RecordingRegion, captured_logs,
    logged_text, observed, outcome, power_request, recovery_node,
)


def raw_client(memory: InMemory):
    """A bare AMP client connected in memory to a fresh region connection."""
    return iosim.connectedServerAndClient(lambda: memory.factory.buildProtocol(None), amp.AMP, greet=False)


class Answers:
    """Collects each Deferred's result or failure as it comes (attach before flushing)."""

    def __init__(self):
        self.holders = []

    def add(self, deferred):
        """Collect ``deferred``'s result."""
        holder = []
        deferred.addBoth(holder.append)
        self.holders.append(holder)

    def get(self):
        """Each result so far, ``None`` where there is none yet."""
        return [holder[0] if holder else None for holder in self.holders]


def results(*deferreds):
    """An Answers collecting ``deferreds``."""
    answers = Answers()
    for d in deferreds:
        answers.add(d)
    return answers


def test_handshake_authenticates_both_ends():
    """A cluster with the secret authenticates; the region learns its name and tells its responder."""
    memory = InMemory(name="rack-7")
    ready = memory.client.when_ready()
    memory.flush()
    assert memory.call(ready) is memory.client and memory.client.authenticated
    assert memory.server.cluster == "rack-7" and memory.server.trusted
    assert memory.region.calls == [("cluster_connected", "rack-7")]
    assert memory.region.connections["rack-7"] is memory.server
    assert memory.factory.connections == {"rack-7": memory.server}


def test_region_drops_a_cluster_with_the_wrong_secret():
    """A pipelined Authenticate, wrong Prove and reports: the region drops it and acts on nothing."""
    memory = InMemory()
    memory.client.transport.loseConnection()
    memory.flush()
    client, server, pump = raw_client(memory)
    memory.region.calls.clear()
    with captured_logs() as events:
        nonce = os.urandom(32)
        sent = [client.callRemote(Authenticate, cluster="rack-9", cluster_nonce=nonce, version=VERSION)]
        bad = auth.cluster_proof(WRONG_SECRET, "rack-9", b"r" * 32, b"c" * 32, CHANNEL)
        sent.append(client.callRemote(Prove, cluster_proof=bad))
        sent.append(client.callRemote(ReportActions, reports=ActionReports(outcomes=(outcome(),))))
        sent.append(client.callRemote(Heartbeat))
        collected = results(*sent)
        pump.flush()
    answers = collected.get()
    assert answers[1].check(AuthenticationFailed)
    assert all(a.check(NotAuthenticated, ConnectionDone, ConnectionLost) for a in answers[2:])
    assert server.gone and server.cluster is None and memory.region.calls == []
    text = logged_text(events)
    assert "rack-9" in text and "failed to prove" in text
    assert SECRET.decode() not in text and WRONG_SECRET.decode() not in text and bad.hex() not in text


def test_cluster_refuses_a_region_without_the_secret():
    """A region that cannot prove the secret is refused: no Prove is sent, nothing is acted on."""
    with captured_logs() as events:
        memory = InMemory(region_secret=WRONG_SECRET)
        ready = memory.client.when_ready()
        memory.flush()
    with pytest.raises(AuthenticationFailed):
        memory.call(ready)
    assert memory.client.gone and memory.server.gone and not memory.server.trusted
    assert memory.region.calls == [] and memory.cluster.calls == []
    text = logged_text(events)
    assert "failed to prove" in text and SECRET.decode() not in text and WRONG_SECRET.decode() not in text


def test_command_before_the_handshake_is_refused():
    """A report before the handshake is refused and drops the connection; a pipelined handshake after it is refused."""
    memory = InMemory()
    memory.client.transport.loseConnection()
    memory.flush()
    memory.region.calls.clear()
    client, server, pump = raw_client(memory)
    first = client.callRemote(ReportActions, reports=ActionReports(outcomes=(outcome(),)))
    nonce = os.urandom(32)
    then = client.callRemote(Authenticate, cluster="rack-1", cluster_nonce=nonce, version=VERSION)
    collected = results(first, then)
    pump.flush()
    [refused, later] = collected.get()
    assert refused.check(NotAuthenticated)
    assert later.check(NotAuthenticated, ConnectionDone, ConnectionLost)
    assert server.gone and memory.region.calls == []


def test_region_command_before_the_region_proved_itself_is_refused():
    """A PerformPower reaching the cluster before the region's proof is refused and not executed."""
    cluster = RecordingCluster()
    client, server, pump = iosim.connectedServerAndClient(
        amp.AMP, lambda: ClusterRPC(cluster, SECRET, "rack-1", lambda t: CHANNEL), greet=False)
    collected = results(server.callRemote(PerformPower, requests=[power_request()]))
    pump.flush()
    assert collected.get()[0].check(NotAuthenticated)
    assert client.gone and cluster.calls == []


@pytest.mark.parametrize("name, nonce", [("bad name!", os.urandom(32)), ("", os.urandom(32)), ("rack-1", b"short")])
def test_bad_name_or_nonce_fails_authentication(name, nonce):
    """Authenticate with a malformed name or nonce is refused and the connection dropped."""
    client, server, pump = raw_client(InMemory())
    collected = results(client.callRemote(Authenticate, cluster=name, cluster_nonce=nonce, version=VERSION))
    pump.flush()
    assert collected.get()[0].check(AuthenticationFailed) and server.gone


def test_prove_out_of_turn_fails():
    """Prove before Authenticate fails authentication and drops the connection."""
    client, server, pump = raw_client(InMemory())
    collected = results(client.callRemote(Prove, cluster_proof=b"x" * 32))
    pump.flush()
    assert collected.get()[0].check(AuthenticationFailed) and server.gone


def test_authenticate_twice_fails():
    """A second Authenticate on one connection fails authentication."""
    client, server, pump = raw_client(InMemory())
    first = client.callRemote(Authenticate, cluster="rack-1", cluster_nonce=os.urandom(32), version=VERSION)
    second = client.callRemote(Authenticate, cluster="rack-1", cluster_nonce=os.urandom(32), version=VERSION)
    collected = results(first, second)
    pump.flush()
    answers = collected.get()
    assert "region_proof" in answers[0] and answers[1].check(AuthenticationFailed)
    assert server.gone


def test_handshake_deadline_drops_a_silent_connection():
    """A connection that never authenticates is dropped after handshake_timeout."""
    memory = InMemory()
    client, server, pump = raw_client(memory)
    memory.clock.advance(memory.factory.handshake_timeout - 1)
    pump.flush()
    assert not server.gone
    memory.clock.advance(1)
    pump.flush()
    assert server.gone


def test_idle_deadline_drops_a_silent_cluster():
    """An authenticated cluster that sends nothing for idle_timeout is dropped, and the responder told."""
    memory = InMemory()
    memory.flush()
    memory.clock.advance(memory.factory.idle_timeout - 1)
    memory.call(memory.client.heartbeat())
    memory.clock.advance(memory.factory.idle_timeout - 1)
    memory.flush()
    assert not memory.server.gone
    memory.clock.advance(1)
    memory.flush()
    assert memory.server.gone and memory.client.gone
    assert memory.region.names() == ["cluster_connected", "heartbeat", "cluster_disconnected"]


def test_cluster_disconnected_when_the_cluster_goes():
    """The responder hears cluster_disconnected when the cluster's connection goes."""
    memory = InMemory()
    memory.flush()
    memory.client.transport.loseConnection()
    memory.flush()
    assert memory.region.calls == [("cluster_connected", "rack-1"), ("cluster_disconnected", "rack-1")]
    assert memory.factory.connections == {} and memory.factory.live == set()


def test_a_second_connection_replaces_the_first():
    """A cluster that authenticates again replaces its older connection, which is dropped silently."""
    region = RecordingRegion()
    first = InMemory(region=region)
    first.flush()
    second_client, second_server, pump = iosim.connectedServerAndClient(
        lambda: first.factory.buildProtocol(None),
        lambda: ClusterRPC(RecordingCluster(), SECRET, "rack-1", lambda t: CHANNEL), greet=False)
    pump.flush()
    first.flush()
    assert first.server.gone and not second_server.gone
    assert region.names() == ["cluster_connected", "cluster_connected"]
    assert region.connections["rack-1"] is second_server
    second_client.transport.loseConnection()
    pump.flush()
    assert region.names()[-1] == "cluster_disconnected"


def test_disconnect_all_drops_every_connection():
    """disconnect_all drops every connection and fires once they are gone."""
    memory = InMemory()
    memory.flush()
    raw, server, pump = raw_client(memory)
    done = results(memory.factory.disconnect_all())
    memory.flush()
    pump.flush()
    assert done.get() == [None] and memory.server.gone and server.gone


def test_responder_failure_answers_command_failed():
    """A responder that raises answers CommandFailed, logged on the region; the connection stays up."""
    memory = InMemory()

    def broken(cluster, report):
        raise RuntimeError("database is down")

    memory.region.report_actions = broken
    memory.flush()
    with captured_logs() as events:
        with pytest.raises(CommandFailed, match="see its log"):
            memory.call(memory.client.report_actions(ActionReports(running=(RunningReport(5),))))
    assert "database is down" in logged_text(events)
    assert memory.call(memory.client.heartbeat()) is None


def test_responder_invalid_request_passes_through():
    """A responder's InvalidRequest reaches the cluster with its message."""
    memory = InMemory()

    def picky(cluster, report):
        raise InvalidRequest("progress: unknown step")

    memory.region.report_actions = picky
    memory.flush()
    with pytest.raises(InvalidRequest, match="unknown step"):
        memory.call(memory.client.report_actions(ActionReports(progress=(ProgressReport(5, "nonsense"),))))


def test_malformed_outcome_is_invalid():
    """An outcome missing a field is refused as InvalidRequest before the responder sees it."""
    memory = InMemory()
    memory.flush()
    broken = {k: v for k, v in wire.unstructure(outcome()).items() if k != "generation"}
    with pytest.raises(InvalidRequest, match=r"reports: outcomes\[0\].generation is missing"):
        memory.call(memory.client.callRemote(ReportActions, reports={"outcomes": [broken]}))
    assert memory.region.names() == ["cluster_connected"]


def test_reports_refused_locally_before_authentication():
    """The cluster's helpers fail with NotAuthenticated, sending nothing, until it has authenticated."""
    memory = InMemory()
    for call in (memory.client.heartbeat(), memory.client.report_actions(ActionReports(running=(RunningReport(1),))),
                 memory.client.recover_all()):
        with pytest.raises(NotAuthenticated):
            memory.call(call)
    assert memory.client.authenticated and memory.region.names() == ["cluster_connected"]


def test_region_cannot_send_before_authentication():
    """The region's perform_power fails with NotAuthenticated on an unauthenticated connection."""
    memory = InMemory()
    with pytest.raises(NotAuthenticated):
        memory.call(memory.server.perform_power([power_request()]))


@pytest.mark.parametrize("after, limit", [(None, 0), (None, 1001), (-1, 10)])
def test_recover_checks_its_arguments(after, limit):
    """Recover with a limit out of range or a negative cursor is InvalidRequest."""
    memory = InMemory()
    memory.flush()
    with pytest.raises(InvalidRequest):
        memory.call(memory.client.callRemote(Recover, query=RecoveryQuery(after=after, limit=limit)))


def test_fit_page_cuts_to_one_amp_value():
    """A page too big for one AMP value is cut, and next names its last node."""
    nodes = [recovery_node(i, actions=20) for i in range(1, 201)]
    page = fit_page(RecoveryPage(nodes=tuple(nodes), next=None))
    assert 0 < len(page.nodes) < 200 and page.next == page.nodes[-1].node
    assert len(Recover.response[0][1].toString(page)) <= MAX_VALUE
    assert fit_page(RecoveryPage(nodes=tuple(nodes[:2]), next=5)) == RecoveryPage(nodes=tuple(nodes[:2]), next=5)


def test_fit_page_refuses_an_entry_too_big_alone():
    """A node whose entry alone exceeds 64 KiB fails the page as CommandFailed."""
    huge = recovery_node(1)
    huge.power_parameters["blob"] = "x" * 70000
    with pytest.raises(CommandFailed, match="node 1"):
        fit_page(RecoveryPage(nodes=(huge,), next=None))


def test_recover_all_refuses_a_cursor_that_does_not_advance():
    """recover_all fails rather than loop when the region's next does not advance."""
    memory = InMemory()
    memory.region.recover = lambda cluster, query: RecoveryPage(nodes=(recovery_node(3),), next=3)
    memory.flush()
    with pytest.raises(InvalidRequest, match="did not advance"):
        memory.call(memory.client.recover_all())


def test_unknown_command_after_authentication_is_unhandled():
    """After the handshake, a command the region does not serve (StartTLS) is refused without effect."""
    memory = InMemory()
    memory.flush()
    with pytest.raises(amp.UnhandledCommand):
        memory.call(memory.client.callRemote(amp.StartTLS, tls_localCertificate=None, tls_verifyAuthorities=None))
    assert not memory.server.gone


def test_power_states_batches_are_checked():
    """A malformed observed state is refused by the region, naming it; the responder hears nothing."""
    memory = InMemory()
    memory.flush()
    bad = attrs.evolve(observed(1), power_state="sideways")
    with pytest.raises(InvalidRequest, match=r"states: \[1\]\.power_state is not valid"):
        memory.call(memory.client.report_power_states([observed(2), bad]))
    assert memory.region.names() == ["cluster_connected"]


def test_command_before_the_handshake_is_logged_and_leaves_the_session_refused():
    """A report before the handshake is logged once, refused, and the region's session stays refused."""
    memory = InMemory()
    memory.client.transport.loseConnection()
    memory.flush()
    client, server, pump = raw_client(memory)
    with captured_logs() as events:
        collected = results(client.callRemote(Heartbeat), client.callRemote(Heartbeat))
        pump.flush()
    assert all(answer.check(NotAuthenticated, ConnectionDone, ConnectionLost) for answer in collected.get())
    text = logged_text(events)
    assert text.count("refused 'Heartbeat' before the handshake") == 1
    assert server.gone and server.session.state is SessionState.REFUSED


def test_a_refused_region_stays_refused_though_it_proves_itself():
    """A region that sent a command before proving itself stays refused: no Prove, no trust, no readiness."""
    proves = []

    class EagerRegion(amp.AMP):
        @Authenticate.responder
        def authenticate(self, cluster, cluster_nonce, version=None, group=None):
            self.callRemote(PerformPower, requests=[power_request()]).addErrback(lambda _: None)
            region_nonce = os.urandom(32)
            proof = auth.region_proof(SECRET, cluster, cluster_nonce, region_nonce, CHANNEL)
            return {"region_nonce": region_nonce, "region_proof": proof, "version": VERSION}

        @Prove.responder
        def prove(self, cluster_proof):
            proves.append(cluster_proof)
            return {}

    cluster = RecordingCluster()
    rpc = ClusterRPC(cluster, SECRET, "rack-1", lambda t: CHANNEL)
    region, client, pump = iosim.connectedServerAndClient(EagerRegion, lambda: rpc, greet=False)
    ready = results(rpc.when_ready())
    pump.flush()
    assert proves == [] and cluster.calls == [] and not rpc.authenticated
    assert rpc.session.state is SessionState.REFUSED and not rpc.trusted
    assert ready.get()[0].check(NotAuthenticated, AuthenticationFailed, ConnectionDone, ConnectionLost)
