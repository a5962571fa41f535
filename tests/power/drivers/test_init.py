"""
Tests for pserv.power.drivers: the table of production drivers by name.
"""

import pytest

from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers import DRIVER_PATHS, driver_class, driver_names
from pserv.power.errors import PowerSettingsError
from pserv.power.types import POWER_TYPES


def test_fake_is_not_listed():
    """The fake driver is no production driver: asking for it names the power_type field."""
    assert "fake" not in driver_names()
    with pytest.raises(PowerSettingsError) as caught:
        driver_class("fake")
    assert str(caught.value).startswith("power_type: unknown driver 'fake'; known: ipmi, manual")
    assert caught.value.field == "power_type"


def test_one_driver_per_production_power_type():
    """The drivers are exactly the production power types."""
    assert driver_names() == sorted(POWER_TYPES)


@pytest.mark.parametrize("name", sorted(DRIVER_PATHS))
def test_every_row_imports(name):
    """Every listed driver imports, is a PowerDriver and carries its own name and power type."""
    cls = driver_class(name)
    assert issubclass(cls, PowerDriver) and cls.name == name
    assert cls.power_type is POWER_TYPES[name]
    assert (cls.label, cls.settings) == (POWER_TYPES[name].label, POWER_TYPES[name].settings)


@pytest.mark.parametrize("name", ["nope", None, ["ipmi"]])
def test_unknown_type_names_the_field(name):
    """An unknown power_type is a settings error naming power_type."""
    with pytest.raises(PowerSettingsError) as caught:
        driver_class(name)
    assert caught.value.field == "power_type"
