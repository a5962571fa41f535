"""
Tests for pserv.power.drivers: the table of production drivers by name.
"""

import pytest

from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers import DRIVER_PATHS, driver_class, driver_names
from pserv.power.errors import PowerSettingsError
from pserv.power.types import POWER_TYPES
from tests.power.types.answers import as_captured, settings_answers


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


@pytest.mark.parametrize("name", sorted(DRIVER_PATHS))
def test_drivers_answer_as_before(name):
    """Each driver's own validate() still answers every captured input as the drivers did: same settings, same field, same message."""
    driver = driver_class(name)()
    cases = [c for c in settings_answers() if c["power_type"] == name and isinstance(c["raw"], dict)]
    for case in cases:
        try:
            cleaned = as_captured(driver.validate(case["raw"]))
        except PowerSettingsError as error:
            assert {"error": str(error), "field": error.field} == case["outcome"], case["raw"]
        else:
            secrets = driver.settings.secrets(cleaned)
            assert {k: v for k, v in cleaned.items() if k not in secrets} == case["outcome"]["plain"]
            assert {k: v for k, v in secrets.items() if v not in (None, "")} == case["outcome"]["secrets"]
    assert len(cases) > 50
