"""
Tests for pserv.testing.power: the in-memory BMC itself.
"""

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock

from pserv.power.errors import PowerTransientError
from pserv.power.states import PowerState
from pserv.testing.power import FakeBMC, FakeFleet, advance_until_idle


def test_answers_after_latency():
    """A call answers after the configured latency, not before."""
    clock = Clock()
    bmc = FakeBMC(clock, power=PowerState.ON, latency=2.0)
    got = []
    bmc.query().addCallback(got.append)
    clock.advance(1.9)
    assert got == []
    clock.advance(0.1)
    assert got == [PowerState.ON] and bmc.reads == 1


def test_cancelled_call_never_answers():
    """Cancelling a call drops it: no late answer, no command applied."""
    clock = Clock()
    bmc = FakeBMC(clock, power=PowerState.OFF, latency=1.0)
    d = bmc.power_on()
    errors = []
    d.addErrback(lambda f: errors.append(f.check(CancelledError)))
    d.cancel()
    clock.advance(5)
    assert errors == [CancelledError] and bmc.power is PowerState.OFF and bmc.commands == []


def test_settle_delays_the_effect():
    """A hard command shows only after settle seconds, and is listed as settling till then."""
    clock = Clock()
    bmc = FakeBMC(clock, power=PowerState.OFF, settle=3.0)
    bmc.power_on()
    assert (bmc.power, bmc.settling) == (PowerState.OFF, ["power_on"])
    clock.advance(3)
    assert (bmc.power, bmc.settling, bmc.changes) == (PowerState.ON, [], [(3.0, PowerState.ON)])


def test_soft_off_honoured_or_ignored():
    """soft_off switches off after shutdown_time, or never for an OS that ignores it."""
    clock = Clock()
    polite = FakeBMC(clock, power=PowerState.ON, shutdown_time=10.0)
    rude = FakeBMC(clock, power=PowerState.ON, shutdown_time=None)
    polite.soft_off(), rude.soft_off()
    clock.advance(10)
    assert (polite.power, rude.power) == (PowerState.OFF, PowerState.ON)


def test_a_power_cycle_ends_a_pending_shutdown():
    """A shutdown under way dies with its OS: after a hard off and on, the node stays on."""
    clock = Clock()
    bmc = FakeBMC(clock, power=PowerState.ON, shutdown_time=10.0)
    bmc.soft_off()
    bmc.power_off()
    bmc.power_on()
    clock.advance(20)
    assert bmc.power is PowerState.ON and [s for _, s in bmc.changes] == [PowerState.OFF, PowerState.ON]


def test_fail_next_then_recover():
    """fail_next fails exactly that many calls of that operation."""
    clock = Clock()
    bmc = FakeBMC(clock)
    bmc.fail_next("query", PowerTransientError("busy"), times=2)
    results = []
    for _ in range(3):
        bmc.query().addBoth(results.append)
    assert [type(r).__name__ for r in results] == ["Failure", "Failure", "PowerState"]


def test_hang_and_unhang():
    """A hung operation never answers until cancelled; unhang answers new calls."""
    clock = Clock()
    bmc = FakeBMC(clock)
    bmc.hang("query")
    hung = bmc.query()
    clock.advance(1000)
    assert not hung.called
    hung.cancel()
    bmc.unhang()
    assert bmc.query().called


def test_power_button():
    """Pressing the power button toggles power and records the change."""
    clock = Clock()
    bmc = FakeBMC(clock, power=PowerState.OFF)
    bmc.press_power_button()
    assert bmc.power is PowerState.ON and bmc.commands == []


def test_fleet_makes_bmcs_once():
    """A fleet makes one BMC per address, with its defaults."""
    fleet = FakeFleet(Clock(), latency=0.5)
    assert fleet.bmc("a") is fleet.bmc("a")
    assert fleet.bmc("b", latency=2).latency == 2 and fleet.bmc("a").latency == 0.5


def test_advance_until_idle_is_exact():
    """advance_until_idle stops at each scheduled call, so chained delays keep their times."""
    clock = Clock()
    seen = []
    clock.callLater(1, lambda: clock.callLater(2, lambda: seen.append(clock.seconds())))
    assert advance_until_idle(clock) == 3.0 and seen == [3.0]


def test_advance_until_idle_honours_horizon():
    """advance_until_idle never goes past its horizon."""
    clock = Clock()
    clock.callLater(100, lambda: None)
    assert advance_until_idle(clock, 10) == 10 and len(clock.getDelayedCalls()) == 1
