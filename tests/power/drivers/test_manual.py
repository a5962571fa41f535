"""
Tests for pserv.power.drivers.manual.
"""

from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from pserv.power.actions import CycleAction, OffAction, QueryAction
from pserv.power.drivers.manual import ManualDriver
from pserv.power.errors import PowerUnsupportedError
from pserv.power.states import PowerState


def test_off_is_recorded_for_the_operator():
    """An off action asks the operator, logs the instructions, and ends done with power unknown."""
    clock = Clock()
    logged = []
    globalLogPublisher.addObserver(logged.append)
    try:
        action = OffAction(ManualDriver(clock).bind({"instructions": "rack 4, slot 2"}), clock)
        action.start()
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert (action.error, action.state, action.commands) == (None, PowerState.UNKNOWN, ["power_off"])
    assert any(e.get("instructions") == "rack 4, slot 2" for e in logged)


def test_declares_it_cannot_read_power():
    """The manual driver declares it cannot read power, so its commands are sent unread."""
    assert ManualDriver.can_query is False and ManualDriver(Clock()).bind({}).can_query is False


def test_query_unsupported():
    """A query through the manual driver fails as unsupported."""
    clock = Clock()
    action = QueryAction(ManualDriver(clock).bind({}), clock)
    action.start()
    assert isinstance(action.error, PowerUnsupportedError)


def test_cycle_refused():
    """A cycle through the manual driver is refused: nobody can verify the off."""
    clock = Clock()
    action = CycleAction(ManualDriver(clock).bind({}), clock)
    action.start()
    assert isinstance(action.error, PowerUnsupportedError)
