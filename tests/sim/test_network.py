"""Tests for pserv.sim.network: streams in order, cuts, stalls, crashes, refusals."""

from random import Random

from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol

from pserv.testing.power import HeapClock, advance_until_idle
from pserv.sim.network import SimNetwork
from pserv.sim.process import Process


class Recorder(Protocol):
    def __init__(self):
        self.data, self.lost = b"", []

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason):
        self.lost.append(reason.type.__name__)


def world():
    clock = HeapClock()
    network = SimNetwork(clock, Random(1), latency=(0.001, 0.05))
    server, client = Process("server#1", "10.0.0.1", clock), Process("client#1", "10.0.0.2", clock)
    accepted = []

    def build(address):
        accepted.append(Recorder())
        return accepted[-1]

    factory = Factory()
    factory.buildProtocol = build
    network.listen("server:1", factory, server)
    connected = []
    network.endpoint("server:1", client).connect(Factory.forProtocol(Recorder)).addCallback(connected.append)
    advance_until_idle(clock, 1)
    return clock, network, server, client, accepted[0], connected[0]


def test_bytes_arrive_in_order():
    """Many writes with random latencies arrive in the order written."""
    clock, network, _, _, accepted, connected = world()
    for i in range(50):
        connected.transport.write(b"%d," % i)
    advance_until_idle(clock, 5)
    assert accepted.data == b"".join(b"%d," % i for i in range(50))


def test_cut_loses_data_in_flight_and_both_ends_hear():
    """A cut drops what is in flight, and each end sees its connection lost."""
    clock, network, _, _, accepted, connected = world()
    connected.transport.write(b"lost")
    network.connections[0].cut(ConnectionResetError("reset"))
    advance_until_idle(clock, 5)
    assert accepted.data == b"" and accepted.lost and connected.lost


def test_stall_delays_but_keeps_data():
    """A stalled connection delivers nothing until the stall ends, then everything."""
    clock, network, _, _, accepted, connected = world()
    network.connections[0].stall(10)
    connected.transport.write(b"late")
    advance_until_idle(clock, 9)
    assert accepted.data == b""
    advance_until_idle(clock, 2)
    assert accepted.data == b"late"


def test_a_crashed_process_hears_nothing_its_peer_hears_the_drop():
    """After a crash the dead end gets no callback; the live one loses the connection."""
    clock, network, server, _, accepted, connected = world()
    server.kill()
    network.crash(server)
    connected.transport.write(b"to the dead")
    advance_until_idle(clock, 5)
    assert accepted.data == b"" and accepted.lost == [] and connected.lost


def test_connecting_to_nobody_is_refused():
    """With nothing listening, a connection attempt fails with ConnectionRefusedError."""
    clock, network, server, client, _, _ = world()
    failures = []
    network.endpoint("nowhere:9", client).connect(Factory.forProtocol(Recorder)).addErrback(failures.append)
    advance_until_idle(clock, 1)
    assert failures[0].check(ConnectionRefusedError)


def test_a_partition_holds_data_and_closes_and_new_connections_time_out():
    """Across a partition nothing arrives until it ends, a close neither; a new connection times out."""
    from twisted.internet.error import TCPTimedOutError

    clock, network, server, client, accepted, connected = world()
    network.partition(client.ip, ["server:1"], 20)
    connected.transport.write(b"late")
    failures = []
    network.endpoint("server:1", client).connect(Factory.forProtocol(Recorder)).addErrback(failures.append)
    advance_until_idle(clock, 19)
    assert accepted.data == b"" and failures[0].check(TCPTimedOutError)
    advance_until_idle(clock, 2)
    assert accepted.data == b"late"
    network.partition(client.ip, ["server:1"], 20)
    connected.transport.abortConnection()
    advance_until_idle(clock, 19)
    assert accepted.lost == [] and connected.lost
    advance_until_idle(clock, 2)
    assert accepted.lost
    network.heal(client.ip)
    assert not network.partitioned(client.ip, "server:1")
