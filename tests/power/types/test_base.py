"""
Tests for pserv.power.types.base: a power type as data, and the table of them.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import Setting, SettingsSchema, SettingType
from pserv.power.types.base import PowerType, PowerTypes, unknown_power_type

SCHEMA = SettingsSchema(
    Setting("address", "Address", SettingType.ADDRESS, required=True),
    Setting("password", "Password", secret=True),
    Setting("port", "Port", SettingType.INTEGER, default=7),
)


def not_seven(params):
    if params["port"] == 7:
        raise PowerSettingsError("port: not seven", field="port")


PLAIN = PowerType("plain", "Plain", SCHEMA)
CHECKED = PowerType("checked", "Checked", SCHEMA, not_seven)


def test_validate_cleans_fills_defaults_then_checks():
    """validate() cleans with the schema, fills defaults, then runs the check on the cleaned settings."""
    assert PLAIN.validate({"address": " 10.0.0.1 "}) == {"address": "10.0.0.1", "password": None, "port": 7}
    assert CHECKED.validate({"address": "a", "port": "8"})["port"] == 8
    with pytest.raises(PowerSettingsError) as caught:
        CHECKED.validate({"address": "a"})
    assert (str(caught.value), caught.value.field) == ("port: not seven", "port")


def test_a_type_can_read_power_unless_it_says_otherwise():
    """can_query is true by default; a type that cannot read power says so."""
    assert PLAIN.can_query and not PowerType("blind", "Blind", SCHEMA, can_query=False).can_query


def test_schema_errors_come_before_the_check():
    """A setting the schema refuses is named before any check runs."""
    with pytest.raises(PowerSettingsError) as caught:
        CHECKED.validate({})
    assert caught.value.field == "address"


def test_describe_is_name_label_settings_and_boot():
    """describe() is what GET /api/v1/drivers shows for the type: also whether it can set a boot device."""
    assert PLAIN.describe() == {"name": "plain", "label": "Plain", "settings": SCHEMA.describe(), "can_set_boot": False}


def test_table_is_in_name_order_and_finds_by_name():
    """A table lists its types by name, finds each, and describes them in that order."""
    table = PowerTypes([PLAIN, CHECKED])
    assert list(table) == ["checked", "plain"] and len(table) == 2
    assert table.find("plain") is PLAIN and table["checked"] is CHECKED
    assert [d["name"] for d in table.describe()] == ["checked", "plain"]


@pytest.mark.parametrize("name", ["nope", None, 5, ["plain"]])
def test_unknown_names_the_field_and_the_known(name):
    """An unknown (or unhashable) power_type is a settings error naming power_type and the known types."""
    with pytest.raises(PowerSettingsError) as caught:
        PowerTypes([PLAIN, CHECKED]).find(name)
    assert str(caught.value) == f"power_type: unknown driver {name!r}; known: checked, plain"
    assert caught.value.field == "power_type"


def test_unknown_power_type_sorts_the_known():
    """The unknown-type message lists the known names sorted, whatever order they came in."""
    assert str(unknown_power_type("x", ["b", "a"])) == "power_type: unknown driver 'x'; known: a, b"


def test_adding_makes_a_new_table():
    """adding() returns a table with the new types and leaves the old one as it was."""
    table = PowerTypes([PLAIN])
    more = table.adding(CHECKED)
    assert list(more) == ["checked", "plain"] and list(table) == ["plain"]


def test_names_are_unique():
    """Two types with one name are refused, whether given together or added."""
    with pytest.raises(ValueError):
        PowerTypes([PLAIN, PowerType("plain", "Other", SCHEMA)])
    with pytest.raises(ValueError):
        PowerTypes([PLAIN]).adding(PLAIN)
