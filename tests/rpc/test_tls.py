"""
Tests for pserv.rpc.tls: the region's certificate, and the RPC over real
TCP and TLS on loopback (every command, a big recovery, a split batch,
wrong secrets and a relaying man in the middle).
"""

import os
import stat

import pytest
import pytest_twisted

from pserv.rpc.common import AuthenticationFailed
from pserv.rpc.cluster_protocol import ClusterRPC
from pserv.rpc.messages import ActionReports, CancelRequest, ProgressReport, ReportsAnswer, RunningReport
from pserv.rpc.tls import CERTIFICATE_FILE, KEY_FILE, CertificateError, ensure_certificate

from pserv.testing.rpc import (
    SECRET, WRONG_SECRET, RecordingCluster, RecordingRegion, captured_logs, logged_text, observed, outcome,
    power_request, recovery_node,
)
from tests.rpc.loopback import LoopbackRegion, connect_cluster, disconnect, listen_relay, within


def test_certificate_is_made_once(tmp_path):
    """The first call makes a key (0600) and certificate; the next one loads the same."""
    first = ensure_certificate(tmp_path / "tls")
    assert stat.S_IMODE((tmp_path / "tls" / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    assert ensure_certificate(tmp_path / "tls").fingerprint == first.fingerprint
    assert len(first.fingerprint) == 32


def test_certificate_is_remade_when_a_file_is_missing(tmp_path):
    """A missing certificate makes both anew."""
    first = ensure_certificate(tmp_path)
    (tmp_path / CERTIFICATE_FILE).unlink()
    assert ensure_certificate(tmp_path).fingerprint != first.fingerprint


def test_a_key_others_can_read_is_refused(tmp_path):
    """A key file group or others can access is refused, naming it."""
    ensure_certificate(tmp_path)
    os.chmod(tmp_path / KEY_FILE, 0o644)
    with pytest.raises(CertificateError, match=KEY_FILE):
        ensure_certificate(tmp_path)


def test_garbage_is_refused(tmp_path):
    """Files that are not PEM are refused with a one-line error naming the directory."""
    ensure_certificate(tmp_path)
    (tmp_path / CERTIFICATE_FILE).write_text("not a certificate")
    with pytest.raises(CertificateError, match="cannot load"):
        ensure_certificate(tmp_path)


def test_a_key_for_another_certificate_is_refused(tmp_path):
    """A key that does not match the certificate is refused."""
    ensure_certificate(tmp_path / "a")
    ensure_certificate(tmp_path / "b")
    os.replace(tmp_path / "b" / KEY_FILE, tmp_path / "a" / KEY_FILE)
    with pytest.raises(CertificateError, match="does not match"):
        ensure_certificate(tmp_path / "a")


@pytest_twisted.ensureDeferred
async def test_every_command_over_tls(tmp_path):
    """Both ends of every command, over TCP and TLS, with the real certificate as the channel."""
    region = LoopbackRegion(tmp_path, RecordingRegion([recovery_node(1)]))
    region.start()
    cluster = RecordingCluster()
    with captured_logs() as events:
        rpc = await connect_cluster(region.address, responder=cluster)
        await exercise_every_command(rpc, region)
        await disconnect(rpc)
        await region.stop()
    assert region.responder.names() == [
        "cluster_connected", "recover", "report_actions", "report_power_states", "heartbeat", "cluster_disconnected"]
    assert cluster.calls == [("perform_power", power_request()), ("cancel_action", CancelRequest(1, 10))]
    text = logged_text(events)
    assert "authenticated to the region" in text
    assert all(secret not in text for secret in (SECRET.decode(), "hunter2", "s3cret"))


async def exercise_every_command(rpc, region):
    """Send every command once each way over ``rpc``."""
    try:
        await within(rpc.when_ready())
        assert await within(rpc.recover_all()) == [recovery_node(1)]
        reports = ActionReports(running=(RunningReport(10),), progress=(ProgressReport(10, "off_verified"),),
                                outcomes=(outcome(10),))
        assert await within(rpc.report_actions(reports)) == ReportsAnswer(applied=(10,))
        await within(rpc.report_power_states([observed(1)]))
        await within(rpc.heartbeat())
        connection = region.responder.connections["rack-1"]
        await within(connection.perform_power([power_request()]))
        assert await within(connection.cancel_action(CancelRequest(1, 10))) is True
    except BaseException:
        await disconnect(rpc)
        await region.stop()
        raise


@pytest_twisted.ensureDeferred
async def test_recovery_of_ten_thousand_nodes(tmp_path):
    """10,000 entries come back whole and in order, across pages each cut to fit 64 KiB."""
    nodes = [recovery_node(i) for i in range(1, 10_001)]
    region = LoopbackRegion(tmp_path, RecordingRegion(nodes))
    region.start()
    rpc = await connect_cluster(region.address)
    try:
        await within(rpc.when_ready())
        assert await within(rpc.recover_all(limit=1000), 30) == nodes
    finally:
        await disconnect(rpc)
        await region.stop()
    pages = [call for call in region.responder.calls if call[0] == "recover"]
    assert len(pages) > 10 and pages[0][2].after is None
    assert all(call[2].after < following[2].after for call, following in zip(pages[1:], pages[2:]))


@pytest_twisted.ensureDeferred
async def test_power_states_batch_split_over_tls(tmp_path):
    """A batch of states far over 64 KiB arrives whole, in several ReportPowerStates."""
    states = [observed(i, error=f"BMC {i} did not answer in 10s") for i in range(5000)]
    region = LoopbackRegion(tmp_path, RecordingRegion())
    region.start()
    rpc = await connect_cluster(region.address)
    try:
        await within(rpc.when_ready())
        await within(rpc.report_power_states(states))
    finally:
        await disconnect(rpc)
        await region.stop()
    batches = [call[2] for call in region.responder.calls if call[0] == "report_power_states"]
    assert len(batches) > 1 and [s for batch in batches for s in batch] == states


@pytest_twisted.ensureDeferred
async def test_wrong_secret_over_tls(tmp_path):
    """A cluster with another secret is refused; the region's responder sees nothing; no secret is logged."""
    region = LoopbackRegion(tmp_path, RecordingRegion())
    region.start()
    with captured_logs() as events:
        rpc = await connect_cluster(region.address, secret=WRONG_SECRET)
        with pytest.raises(AuthenticationFailed):
            await within(rpc.when_ready())
        await within(rpc.when_lost())
        await region.stop()
    assert region.responder.calls == []
    text = logged_text(events)
    assert SECRET.decode() not in text and WRONG_SECRET.decode() not in text


class TrustingCluster(ClusterRPC):
    """A cluster fooled into skipping the region's proof: it sends its own proof regardless."""

    def _check_region(self, answer, cluster_nonce):
        """Compute the proof over the channel this cluster sees, without checking the region's."""
        from pserv.rpc import auth
        from pserv.rpc.region import Prove

        channel = self.channel(self.transport)
        proof = auth.cluster_proof(self.secret, self.name, answer["region_nonce"], cluster_nonce, channel)
        return self.callRemote(Prove, cluster_proof=proof).addCallback(self._proved)


@pytest_twisted.ensureDeferred
async def test_a_relaying_man_in_the_middle_fails(tmp_path):
    """Through a TLS relay with its own certificate, each side refuses the other and nothing is acted on."""
    region = LoopbackRegion(tmp_path, RecordingRegion())
    region.start()
    relay = listen_relay(tmp_path, region.address)
    relayed = f"127.0.0.1:{relay.getHost().port}"
    try:
        with captured_logs() as events:
            honest = await connect_cluster(relayed)
            with pytest.raises(AuthenticationFailed, match="failed to prove"):
                await within(honest.when_ready())
            fooled = await connect_cluster(relayed, cls=TrustingCluster)
            lost = fooled.when_lost()
            with pytest.raises(AuthenticationFailed):
                await within(fooled.when_ready())
            await within(lost)
    finally:
        await relay.stopListening()
        await region.stop()
    assert region.responder.calls == []
    text = logged_text(events)
    assert "cluster 'rack-1' at 127.0.0.1:" in text and "relay in between" in text
    assert SECRET.decode() not in text


@pytest_twisted.ensureDeferred
async def test_both_ends_see_the_same_certificate(tmp_path):
    """Without a relay, the fingerprint the cluster sees is the region's own."""
    from pserv.rpc.tls import peer_fingerprint

    region = LoopbackRegion(tmp_path, RecordingRegion())
    region.start()
    rpc = await connect_cluster(region.address)
    try:
        await within(rpc.when_ready())
        assert peer_fingerprint(rpc.transport) == region.factory.wrappedFactory.channel
    finally:
        await disconnect(rpc)
        await region.stop()


def test_peer_fingerprint_needs_tls():
    """Without TLS there is no certificate to bind to."""
    from twisted.internet.testing import StringTransport

    from pserv.rpc.tls import peer_fingerprint

    with pytest.raises(ValueError, match="no TLS"):
        peer_fingerprint(StringTransport())

