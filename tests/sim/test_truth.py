"""Tests for pserv.sim.truth."""

from pserv.power.states import PowerState
from pserv.testing.power import FakeFleet, HeapClock
from pserv.sim.truth import BMCTruth

ON, OFF = PowerState.ON, PowerState.OFF


def history():
    clock = HeapClock()
    truth = BMCTruth(FakeFleet(clock))
    truth.add("b", OFF)
    clock.advance(10)
    truth.press("b", clock.seconds())
    return clock, truth


def test_state_at_follows_the_history():
    """The state at a time is the initial one, then each change from its moment on."""
    clock, truth = history()
    assert (truth.state_at("b", 9.9), truth.state_at("b", 10), truth.last_press("b")) == (OFF, ON, 10)


def test_was_looks_across_a_window():
    """A state held at any moment of a window counts."""
    clock, truth = history()
    assert truth.was("b", OFF, 9, 11) and truth.was("b", ON, 9, 11) and not truth.was("b", ON, 5, 9)


def test_settled_since_needs_no_change_and_no_command_after():
    """A BMC settled since a time had no change, no command and nothing settling after it."""
    clock, truth = history()
    assert truth.settled_since("b", ON, 11) and not truth.settled_since("b", ON, 9)
    clock.advance(10)
    truth.fleet.bmcs["b"].power_off()
    assert not truth.settled_since("b", OFF, 15) and truth.settled_since("b", OFF, 21)
