"""
Tests for pserv.cluster.lease, on a Clock.
"""

from twisted.internet.task import Clock

from pserv.cluster.lease import Lease, LeaseEnded, LeasedControl
from pserv.power.boot import BootDevice, BootSetting
from pserv.power.states import PowerState
from pserv.testing.power import FakeFleet


def lease_on(clock):
    """A lease and the list its ends are recorded in."""
    ended = []
    return Lease(clock, lambda: ended.append(clock.seconds())), ended


def leased_bmc(clock, lease, latency=0.0):
    """A BMC, and its control under ``lease``, renewed for 10 s at 0."""
    bmc = FakeFleet(clock).bmc("b1", latency=latency)
    control = LeasedControl(bmc, lease)
    lease.renew(0.0, 10.0)
    return bmc, control


def test_a_lease_runs_from_when_the_heartbeat_was_sent():
    """Renewed by an answer that took 3 s, a 10 s lease ends 10 s after the send, and says so once."""
    clock = Clock()
    lease, ended = lease_on(clock)
    assert not lease.holds()
    clock.advance(3)
    lease.renew(0.0, 10.0)
    assert lease.holds() and lease.until == 10.0
    clock.advance(6.9)
    assert lease.holds() and ended == []
    clock.advance(0.1)
    assert not lease.holds() and ended == [10.0]
    clock.advance(60)
    assert ended == [10.0]


def test_a_late_or_older_answer_renews_nothing():
    """An answer to a heartbeat sent so long ago that its lease has ended, or one older than the lease held, changes nothing."""
    clock = Clock()
    lease, ended = lease_on(clock)
    clock.advance(20)
    lease.renew(5.0, 10.0)
    assert not lease.holds() and lease.until is None
    lease.renew(18.0, 10.0)
    lease.renew(12.0, 10.0)
    assert lease.until == 28.0
    lease.renew(19.0, None)
    assert lease.until == 28.0 and ended == []


def test_a_command_after_the_end_is_not_sent_and_ends_the_lease_first():
    """A frozen process wakes past its lease before its timer fires: the next command is refused, the lease ended first."""
    clock = Clock()
    lease, ended = lease_on(clock)
    bmc, control = leased_bmc(clock, lease)
    assert control.description == bmc.description
    results = []
    control.power_on().addBoth(results.append)
    assert results == [None] and bmc.power is PowerState.ON
    clock.rightNow = 11.0  # as after SIGSTOP and SIGCONT: the timer has not run yet
    control.power_off().addErrback(lambda f: results.append(f.check(LeaseEnded)))
    assert results[-1] is LeaseEnded and ended == [11.0]
    assert [operation for _, operation in bmc.commands] == ["power_on"]


def test_a_call_in_flight_when_the_lease_ends_is_given_up_then():
    """A read the BMC has not answered when the lease ends is cancelled at that moment, after the fence, so it cannot outlast the lease."""
    clock = Clock()
    order = []
    lease = Lease(clock, lambda: order.append("fenced"))
    bmc, control = leased_bmc(clock, lease)
    bmc.hang("query")
    control.query().addErrback(lambda f: order.append(f.type.__name__))
    clock.advance(9.9)
    assert order == []
    clock.advance(0.1)
    assert order == ["fenced", "CancelledError"]


def test_a_renewal_lets_a_call_run_on_and_an_answered_call_is_let_go():
    """A call outlives its first lease once renewed, and a call that has answered is not held by the lease."""
    clock = Clock()
    lease, ended = lease_on(clock)
    _, control = leased_bmc(clock, lease, latency=8)
    answers = []
    control.query().addBoth(answers.append)
    clock.advance(5)
    lease.renew(5.0, 10.0)
    clock.advance(3)
    assert answers == [PowerState.OFF] and lease._calls == set()
    clock.advance(7)
    assert ended == [15.0] and answers == [PowerState.OFF]


def test_a_boot_device_is_set_only_while_the_lease_runs():
    """A leased control can set and read back a boot device while the lease runs, and sets none once it has ended."""
    clock = Clock()
    lease, ended = lease_on(clock)
    bmc = FakeFleet(clock).bmc("b1", latency=0)
    control = LeasedControl(bmc, lease)
    lease.renew(0.0, 10.0)
    results = []
    assert control.can_set_boot
    control.set_boot_device(BootDevice.PXE, False).addBoth(results.append)
    control.get_boot_device().addBoth(results.append)
    assert results == [None, BootSetting(BootDevice.PXE)]
    clock.rightNow = 11.0
    control.set_boot_device(BootDevice.DISK, True).addErrback(lambda f: results.append(f.check(LeaseEnded)))
    assert results[-1] is LeaseEnded and bmc.boot == BootSetting(BootDevice.PXE)


def test_a_control_of_an_ended_term_sends_nothing_once_the_lease_is_renewed():
    """A control made before the lease ended refuses every call after a renewal; one made after acts."""
    clock = Clock()
    lease, ended = lease_on(clock)
    bmc, old = leased_bmc(clock, lease)
    clock.advance(11)
    lease.renew(11.0, 10.0)
    refused = []
    old.power_on().addErrback(lambda f: refused.append(f.check(LeaseEnded)))
    assert refused == [LeaseEnded] and ended == [11.0]
    new = LeasedControl(bmc, lease)
    answered = []
    new.power_on().addCallback(answered.append)
    assert answered == [None] and [operation for _, operation in bmc.commands] == ["power_on"]
