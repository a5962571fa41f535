"""
Tests for pserv.cluster.handover (through the daemon's ReleaseNode), on a
Clock with the fake driver.
"""

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.rpc.messages import PowerRequest, RecoveryAction, RecoveryNode, ReleaseRequest
from pserv.testing.cluster import RecordingLink
from pserv.testing.fake_driver import FakeDriver
from pserv.testing.power import FakeFleet, advance_until_idle


class Session(RecordingLink):
    """A region session whose recovery answers when the test says."""

    def __init__(self):
        super().__init__()
        self.answer = Deferred()

    def recover_all(self):
        return self.answer

    def when_lost(self):
        return Deferred()


def entry(node, actions=()):
    return RecoveryNode(node=node, name=f"n{node}", power_type="fake", power_parameters={"address": f"b{node}"},
                        desired_power_state=PowerState.ON, generation=2, actions=tuple(actions))


def cluster(latency=1.0):
    clock = Clock()
    fleet = FakeFleet(clock, latency=latency)
    daemon = ClusterDaemon(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), interval=60)
    return clock, fleet, daemon


def released(daemon, node):
    done = []
    daemon.release_node(ReleaseRequest(node)).addCallback(done.append)
    return done


def test_a_release_waits_for_what_is_in_play_and_cancels_it():
    """Giving a node up cancels its action in flight and answers only once the registry has nothing for it."""
    clock, fleet, daemon = cluster(latency=5.0)
    link = RecordingLink()
    daemon.reports.link_up(link)
    daemon.perform_power(PowerRequest(action=3, node=1, name="n1", kind=ActionKind.CYCLE, generation=1,
                                      power_type="fake", power_parameters={"address": "b1"}))
    fleet.bmcs["b1"].power = PowerState.ON
    clock.advance(6)  # the first read answered at 5 s; power_off is on its way, not a safe point
    done = released(daemon, 1)
    assert daemon.book.get(1) is None and done == []
    clock.advance(3)
    assert done == []
    advance_until_idle(clock, 60)
    assert done == [None] and daemon.power.registry.in_play("1") == (None, None)
    assert [operation for _, operation in fleet.bmcs["b1"].commands] == ["power_off"]
    assert ("outcome", 3, "cancelled", "off") in link.reports


def test_a_release_of_an_idle_or_unknown_node_answers_at_once():
    """A node with nothing in play, or one the cluster never had, is given up at once."""
    clock, fleet, daemon = cluster()
    assert released(daemon, 42) == [None]


def test_a_recovery_under_way_leaves_out_a_node_given_up_meanwhile():
    """A recovery answer made before the move does not bring a released node back, nor run its actions."""
    clock, fleet, daemon = cluster()
    session = Session()
    ready = Deferred.fromCoroutine(daemon.region_ready(session))
    done = released(daemon, 1)
    assert done == []
    on = RecoveryAction(id=9, kind=ActionKind.ON, generation=2, status=ActionStatus.SENT, progress=None,
                        cancel_requested=False)
    session.answer.callback([entry(1, [on]), entry(2)])
    advance_until_idle(clock, 30)
    assert done == [None] and ready.called
    assert daemon.book.get(1) is None and daemon.book.get(2) is not None
    assert "b1" not in fleet.bmcs
    daemon.stop()


def test_a_sweep_never_reads_a_node_given_up():
    """After the release, the sweep leaves the node alone, even a read that was waiting for a slot."""
    clock, fleet, daemon = cluster(latency=2.0)
    daemon.observer._slots.tokens = 1  # one read at a time: node 2's waits for node 1's
    daemon.book.replace([entry(1), entry(2)])
    daemon.observer.sweep()
    clock.advance(0.5)
    assert released(daemon, 2) == [None]
    advance_until_idle(clock, 600)
    assert fleet.bmcs["b1"].reads == 1 and "b2" not in fleet.bmcs


def test_observations_carry_the_epoch_the_node_came_in():
    """The sweep reports each node's state with the epoch its recovery entry (or request) carried."""
    clock, fleet, daemon = cluster(latency=0.0)
    link = RecordingLink()
    sent = []
    link.report_power_states = lambda states: sent.extend(states) or succeed(None)
    daemon.reports.link_up(link)
    daemon.book.replace([RecoveryNode(node=1, name="n1", power_type="fake", power_parameters={"address": "b1"},
                                      desired_power_state=PowerState.ON, generation=2, actions=(), epoch=4)])
    daemon.observer.sweep()
    advance_until_idle(clock, 30)
    assert [(s.node, s.epoch) for s in sent] == [(1, 4)]
