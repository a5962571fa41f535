"""Tests for pserv.sim.bmcs."""

from pserv.power.states import PowerState
from pserv.testing.power import FakeFleet, HeapClock, advance_until_idle
from pserv.sim.bmcs import FleetView
from pserv.sim.process import Process


class Watcher:
    def __init__(self):
        self.calls = []

    def call_started(self, process, address, operation):
        self.calls.append(("start", operation))
        return operation

    def call_ended(self, token):
        self.calls.append(("end", token))


def test_calls_are_watched_and_answered():
    """Each call is reported as it starts and ends, and its answer reaches the live process."""
    clock, watcher = HeapClock(), Watcher()
    view = FleetView(FakeFleet(clock, latency=0.5), Process("rack-1#1", "10.0.1.1", clock), watcher)
    answers = []
    view.bmc("b").query().addCallback(answers.append)
    advance_until_idle(clock)
    assert answers == [PowerState.OFF] and watcher.calls == [("start", "query"), ("end", "query")]


def test_a_dead_process_hears_nothing_but_the_command_takes_effect():
    """A command sent just before a crash still switches the BMC; the dead process gets no answer."""
    clock, watcher = HeapClock(), Watcher()
    fleet = FakeFleet(clock, latency=0.5)
    process = Process("rack-1#1", "10.0.1.1", clock)
    answers = []
    FleetView(fleet, process, watcher).bmc("b").power_on().addBoth(answers.append)
    process.kill()
    advance_until_idle(clock)
    assert answers == [] and fleet.bmcs["b"].power is PowerState.ON
