"""
Tests for pserv.power.drivers.base: the base every driver shares.
"""

import pytest
from twisted.internet.task import Clock

from pserv.power.drivers.base import BoundControl, PowerDriver
from pserv.power.errors import PowerSettingsError, PowerUnsupportedError
from pserv.power.settings import Setting, SettingsSchema, SettingType
from pserv.power.types import PowerType


class Minimal(PowerDriver):
    power_type = PowerType("minimal", "Minimal", SettingsSchema(
        Setting("address", "Address", SettingType.ADDRESS, required=True),
        Setting("password", "Password", secret=True),
    ))


def test_bind_validates_and_binds():
    """bind() validates settings and gives a control that carries them."""
    control = Minimal(Clock()).bind({"address": "10.0.0.9", "password": "hunter2"})
    assert isinstance(control, BoundControl)
    assert control.params["address"] == "10.0.0.9"
    assert control.description == "minimal 10.0.0.9"
    assert "hunter2" not in repr(control)


def test_control_says_whether_its_driver_can_read():
    """A driver and its controls take can_query from the driver's power type; a driver without one can read."""

    class Blind(PowerDriver):
        power_type = PowerType("blind", "Blind", SettingsSchema(), can_query=False)

    class Untyped(PowerDriver):
        pass

    assert Minimal.can_query and Minimal(Clock()).bind({"address": "a"}).can_query
    assert not Blind.can_query and not Blind(Clock()).bind({}).can_query
    assert Untyped.can_query


def test_bind_refuses_bad_settings():
    """bind() raises an error naming the bad field."""
    with pytest.raises(PowerSettingsError) as caught:
        Minimal(Clock()).bind({})
    assert caught.value.field == "address"


@pytest.mark.parametrize("operation", ["power_on", "power_off", "soft_off", "query"])
def test_operations_unsupported_by_default(operation):
    """An operation a driver does not implement fails as unsupported, naming the BMC."""
    control = Minimal(Clock()).bind({"address": "10.0.0.9"})
    failure = []
    getattr(control, operation)().addErrback(failure.append)
    assert failure[0].check(PowerUnsupportedError)
    assert "minimal 10.0.0.9" in failure[0].getErrorMessage()


def test_reactor_is_resolved_lazily():
    """A driver made without a reactor uses the global one, found only when needed."""
    from twisted.internet import reactor

    assert Minimal().reactor is reactor
    clock = Clock()
    assert Minimal(clock).reactor is clock


def test_close_by_default_does_nothing():
    """A driver with nothing to release closes at once."""
    closed = []
    Minimal(Clock()).close().addCallback(closed.append)
    assert closed == [None]


def test_name_label_and_settings_come_from_the_power_type():
    """A driver's name, label and settings are its power type's."""
    assert (Minimal.name, Minimal.label, Minimal.settings) == (
        "minimal", "Minimal", Minimal.power_type.settings,
    )


def test_validate_runs_the_power_types_check():
    """validate() checks settings against each other with the power type's check, naming the field."""

    def no_localhost(params):
        if params["address"] == "localhost":
            raise PowerSettingsError("address: must not be this host", field="address")

    class Checked(PowerDriver):
        power_type = PowerType("checked", "Checked", Minimal.settings, no_localhost)

    assert Checked(Clock()).validate({"address": "10.0.0.9"})["address"] == "10.0.0.9"
    with pytest.raises(PowerSettingsError) as caught:
        Checked(Clock()).validate({"address": "localhost"})
    assert caught.value.field == "address"
