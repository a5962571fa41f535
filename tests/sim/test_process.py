"""Tests for pserv.sim.process."""

from twisted.internet.task import Clock

from pserv.sim.process import Process


def test_kill_cancels_every_pending_call():
    """A killed process's timers never fire."""
    clock = Clock()
    process = Process("p#1", "10.0.0.9", clock)
    fired = []
    process.clock.callLater(1, fired.append, "early")
    process.kill()
    clock.advance(5)
    assert fired == [] and not process.alive


def test_a_dead_process_schedules_nothing():
    """Calls scheduled after death are inert; the world's clock holds nothing for them."""
    clock = Clock()
    process = Process("p#1", "10.0.0.9", clock)
    process.kill()
    call = process.clock.callLater(1, lambda: None)
    assert clock.getDelayedCalls() == [] and call.active()


def test_live_calls_run_on_the_world_clock():
    """A live process's calls run at the world's time."""
    clock = Clock()
    process = Process("p#1", "10.0.0.9", clock)
    fired = []
    process.clock.callLater(2, lambda: fired.append(process.clock.seconds()))
    clock.advance(2)
    assert fired == [2.0] and process.clock.getDelayedCalls() == []


def test_a_process_clock_may_be_off_the_world_s():
    """A skewed process reads the world's time plus its offset, and its calls still wait their delay."""
    clock = Clock()
    process = Process("p#1", "10.0.0.9", clock, offset=-4.5)
    fired = []
    process.clock.callLater(2, lambda: fired.append((clock.seconds(), process.clock.seconds())))
    clock.advance(2)
    assert fired == [(2.0, -2.5)]
