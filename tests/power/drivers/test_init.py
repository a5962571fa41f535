"""
Tests for pserv.power.drivers: the table of drivers by name.
"""

import pytest

from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers import DRIVER_PATHS, driver_class, driver_names
from pserv.power.errors import PowerSettingsError


def test_fake_is_listed():
    """The fake driver is found by its name."""
    assert "fake" in driver_names()
    assert driver_class("fake").name == "fake"


@pytest.mark.parametrize("name", sorted(DRIVER_PATHS))
def test_every_row_imports(name):
    """Every listed driver imports, is a PowerDriver and carries its own name."""
    cls = driver_class(name)
    assert issubclass(cls, PowerDriver) and cls.name == name


@pytest.mark.parametrize("name", ["nope", None, ["ipmi"]])
def test_unknown_type_names_the_field(name):
    """An unknown power_type is a settings error naming power_type."""
    with pytest.raises(PowerSettingsError) as caught:
        driver_class(name)
    assert caught.value.field == "power_type"
