"""
Tests for pserv.cluster.daemon, on a Clock with the fake driver.
"""

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.testing.fake_driver import FakeDriver
from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.rpc.messages import CancelRequest, PowerRequest, RecoveryAction, RecoveryNode
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
