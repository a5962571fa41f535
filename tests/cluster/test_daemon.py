"""
Tests for pserv.cluster.daemon, on a Clock with the fake driver.
"""

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.testing.fake_driver import FakeDriver
from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.rpc.messages import AdoptRequest, CancelRequest, PowerRequest, RecoveryAction, RecoveryNode
from pserv.testing.power import FakeFleet, advance_until_idle
from pserv.testing.cluster import RecordingLink


class Session(RecordingLink):
    def __init__(self, nodes):
        super().__init__()
        self.nodes = nodes

    def recover_all(self):
        return succeed(self.nodes)

    def when_lost(self):
        return Deferred()


def node(actions):
    return RecoveryNode(node=1, name="n1", power_type="fake", power_parameters={"address": "b1"},
                        desired_power_state=PowerState.ON, generation=2, actions=tuple(actions))


def test_reconnect_recovers_and_converges():
    """On connection the daemon recovers, runs what has no outcome, reports it and starts sweeping."""
    clock = Clock()
    fleet = FakeFleet(clock)
    daemon = ClusterDaemon(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), interval=600)
    session = Session([node([RecoveryAction(id=9, kind=ActionKind.ON, generation=2, status=ActionStatus.SENT,
                                            progress=None, cancel_requested=False)])])
    done = []
    Deferred.fromCoroutine(daemon.region_ready(session)).addCallback(done.append)
    advance_until_idle(clock, 30)
    assert done == [None] and len(daemon.book) == 1
    assert ("outcome", 9, "done", "on") in session.reports
    assert fleet.bmcs["b1"].power is PowerState.ON
    daemon.stop()


def test_requests_update_the_book_and_run():
    """A power request from the region is remembered and run."""
    clock = Clock()
    fleet = FakeFleet(clock)
    daemon = ClusterDaemon(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}))
    session = Session([])
    daemon.reports.link_up(session)
    daemon.perform_power(PowerRequest(action=3, node=4, name="n4", kind=ActionKind.OFF, generation=1,
                                      power_type="fake", power_parameters={"address": "b4"}))
    advance_until_idle(clock)
    assert daemon.book.get(4).name == "n4"
    assert ("outcome", 3, "done", "off") in session.reports
    assert not daemon.cancel_action(CancelRequest(4, 3))


class MemberSession(Session):
    """A member's session: its heartbeats answer a lease of ``lease`` seconds; it records an abort."""

    def __init__(self, nodes, lease=10.0):
        super().__init__(nodes)
        self.lease = lease
        self.aborted = False

    def heartbeat(self):
        return succeed(self.lease)

    def abort(self):
        self.aborted = True


def member(clock, fleet):
    return ClusterDaemon(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), group="row-a", interval=600)


def sent_on(action=9):
    return node([RecoveryAction(id=action, kind=ActionKind.ON, generation=2, status=ActionStatus.SENT,
                                progress=None, cancel_requested=False)])


def test_a_member_renews_its_lease_before_it_recovers():
    """A member's first step on a connection is a heartbeat; its lease then runs, and recovery follows."""
    clock = Clock()
    daemon = member(clock, FakeFleet(clock))
    session = MemberSession([sent_on()])
    Deferred.fromCoroutine(daemon.region_ready(session))
    assert daemon.lease.until == 10.0 and len(daemon.book) == 1
    daemon.stop()


def test_a_member_whose_lease_ends_stops_reports_nothing_and_runs_it_again_when_handed_back():
    """The lease ends mid-action: nothing more is sent, no outcome is reported, the connection is dropped; the next recovery runs the action to its end."""
    clock = Clock()
    fleet = FakeFleet(clock)
    bmc = fleet.bmc("b1")
    bmc.hang("power_on")
    daemon = member(clock, fleet)
    first = MemberSession([sent_on()])
    Deferred.fromCoroutine(daemon.region_ready(first))
    advance_until_idle(clock, 120)
    assert first.aborted and daemon.lease.until is None and len(daemon.book) == 0
    assert not [r for r in first.reports if r[0] == "outcome"] and daemon.power.outstanding == frozenset()
    assert bmc.changes == []
    bmc.unhang()
    daemon.region_lost(first)
    second = MemberSession([sent_on()], lease=600.0)
    Deferred.fromCoroutine(daemon.region_ready(second))
    advance_until_idle(clock, 120)
    assert ("outcome", 9, "done", "on") in second.reports + first.reports
    assert [target for _, target in bmc.changes] == [PowerState.ON]
    daemon.stop()


def test_adopted_nodes_are_recovered_on_the_same_connection():
    """AdoptNodes makes a member recover again and converge on the nodes it now holds."""
    clock = Clock()
    fleet = FakeFleet(clock)
    daemon = member(clock, fleet)
    session = MemberSession([], lease=600.0)
    Deferred.fromCoroutine(daemon.region_ready(session))
    assert len(daemon.book) == 0
    session.nodes = [sent_on()]
    daemon.adopt_nodes(AdoptRequest((1,)))
    advance_until_idle(clock, 60)
    assert len(daemon.book) == 1 and ("outcome", 9, "done", "on") in session.reports
    daemon.stop()


def test_a_fenced_member_reads_no_bmc_not_even_a_sweep_read_in_play():
    """
    A power-sweep read in play when the lease ends makes no further read:
    the sweep's reads check the lease as commands do (found by the
    simulation: a member cut off from the regions kept retrying a read of a
    hung BMC after its lease ended, while the node's new holder read it).
    """
    clock = Clock()
    fleet = FakeFleet(clock)
    bmc = fleet.bmc("b1")
    bmc.hang("query")
    reads = []
    query = bmc.query
    bmc.query = lambda: (reads.append(clock.seconds()), query())[1]
    daemon = member(clock, fleet)
    session = MemberSession([node([])], lease=5.0)
    Deferred.fromCoroutine(daemon.region_ready(session))
    advance_until_idle(clock, 120)
    assert reads and session.aborted and daemon.lease.until is None
    assert max(reads) < 5.0, reads
    daemon.stop()
