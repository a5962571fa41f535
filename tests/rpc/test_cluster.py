"""
Tests for pserv.rpc.cluster: every command the cluster answers, both ends
in memory, with a recording responder.
"""

import attrs
import pytest

from pserv.rpc import wire
from pserv.rpc.arguments import Message
from pserv.rpc.cluster import CancelAction, ClusterResponder, PerformPower, ReleaseNode
from pserv.rpc.common import CommandFailed, InvalidRequest
from pserv.rpc.messages import AdoptRequest, CancelRequest, PowerRequest, ReleaseRequest

from pserv.testing.rpc import InMemory, RecordingCluster, power_request


@pytest.fixture
def memory():
    """An authenticated in-memory connection; ``server`` is the region's end."""
    connection = InMemory()
    connection.flush()
    return connection


def test_perform_power(memory):
    """PerformPower carries requests, which the cluster takes in order; the answer means accepted."""
    requests = [power_request(7), power_request(8, node=2)]
    assert memory.call(memory.server.perform_power(requests)) is None
    assert memory.cluster.calls == [("perform_power", power_request(7)), ("perform_power", power_request(8, node=2))]


def test_perform_power_splits_what_does_not_fit_one_value(memory):
    """Requests too many for one AMP value go in several PerformPower, and the cluster takes them all in order."""
    requests = [attrs.evolve(power_request(n, node=n), power_parameters={"address": "b" * 400}) for n in range(1, 501)]
    assert memory.call(memory.server.perform_power(requests)) is None
    assert [call[1] for call in memory.cluster.calls] == requests


@pytest.mark.parametrize("known", [True, False])
def test_cancel_action(memory, known):
    """CancelAction carries node and action and answers whether the cluster knew it."""
    memory.cluster.known = known
    assert memory.call(memory.server.cancel_action(CancelRequest(3, 30))) is known
    assert memory.cluster.calls == [("cancel_action", CancelRequest(3, 30))]


def test_release_node(memory):
    """ReleaseNode carries the node; the answer means released."""
    assert memory.call(memory.server.release_node(ReleaseRequest(5))) is None
    assert memory.cluster.calls == [("release_node", ReleaseRequest(5))]


def test_adopt_nodes(memory):
    """AdoptNodes carries the nodes a member now holds; the answer means accepted."""
    assert memory.call(memory.server.adopt_nodes(AdoptRequest((4, 9)))) is None
    assert memory.cluster.calls == [("adopt_nodes", AdoptRequest((4, 9)))]


def test_a_member_names_its_group_and_a_heartbeat_answers_its_lease():
    """A member's Authenticate carries its group to the region; the heartbeat's answer carries the lease."""
    memory = InMemory(group="row-a")
    memory.flush()
    assert memory.server.group == "row-a"
    memory.region.heartbeats = 45.0
    assert memory.call(memory.client.heartbeat()) == 45.0


def test_request_missing_a_field_is_refused_by_the_cluster(memory):
    """perform_power's request missing a field is refused by the cluster, naming it; nothing is run."""
    broken = {k: v for k, v in wire.unstructure(power_request()).items() if k != "kind"}
    with pytest.raises(InvalidRequest, match="kind"):
        memory.call(memory.server.perform_power([power_request(), broken]))
    assert memory.cluster.calls == []


def test_malformed_request_is_refused_by_the_cluster(memory):
    """A request with a mistyped field is refused by the cluster as InvalidRequest; the connection stays up."""
    broken = {**wire.unstructure(power_request()), "generation": "4"}
    with pytest.raises(InvalidRequest, match=r"requests: \[0\].generation is not valid"):
        memory.call(memory.server.callRemote(PerformPower, requests=[broken]))
    assert memory.cluster.calls == []
    assert memory.call(memory.server.perform_power([power_request()])) is None


def test_responder_failure_answers_command_failed(memory):
    """A cluster responder that raises answers CommandFailed; the connection stays up."""

    def broken(request):
        raise RuntimeError("registry is gone")

    memory.cluster.perform_power = broken
    with pytest.raises(CommandFailed):
        memory.call(memory.server.perform_power([power_request()]))
    assert memory.call(memory.server.cancel_action(CancelRequest(1, 1))) is True


def test_recording_cluster_is_a_cluster_responder():
    """The fake implements every ClusterResponder method."""
    methods = {name for name in vars(ClusterResponder) if not name.startswith("_")}
    assert methods <= set(dir(RecordingCluster))


def test_the_commands_carry_messages():
    """PerformPower carries PowerRequests, CancelAction a CancelRequest and ReleaseNode a ReleaseRequest."""
    assert dict(PerformPower.arguments)[b"requests"].kind == tuple[PowerRequest, ...]
    request, = CancelAction.arguments
    assert request[0] == b"cancel" and isinstance(request[1], Message) and request[1].kind is CancelRequest
    assert dict(ReleaseNode.arguments)[b"release"].kind is ReleaseRequest
