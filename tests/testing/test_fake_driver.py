"""
Tests for pserv.testing.fake_driver.
"""

from twisted.internet.task import Clock

from pserv.testing.fake_driver import FakeDriver
from pserv.power.states import PowerState
from pserv.testing.power import FakeFleet


def test_drives_the_fleet_by_address():
    """Each node's address names one BMC of the fleet, which the driver switches."""
    clock = Clock()
    fleet = FakeFleet(clock)
    driver = FakeDriver(clock, fleet)
    control = driver.bind({"address": "n1", "password": "secret"})
    got = []
    control.power_on()
    control.query().addCallback(got.append)
    assert got == [PowerState.ON] and fleet.bmcs["n1"].power is PowerState.ON


def test_soft_off_and_power_off():
    """soft_off and power_off reach the emulated BMC."""
    clock = Clock()
    driver = FakeDriver(clock)
    control = driver.bind({"address": "n1"})
    control.power_on()
    control.power_off()
    assert [c for _, c in driver.fleet.bmcs["n1"].commands] == ["power_on", "power_off"]


def test_password_is_secret():
    """The fake driver's password is a secret, redacted like any other."""
    assert FakeDriver.settings.redact({"password": "x"}) == {"password": "set"}
