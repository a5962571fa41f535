"""
Tests for pserv.power.settings.
"""

import re

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import (
    ADDRESS_PATTERN, DEFAULTED, REDACTED, Setting, SettingsSchema, SettingType, typed_value,
)

SCHEMA = SettingsSchema(
    Setting("address", "Address", SettingType.ADDRESS, required=True),
    Setting("port", "Port", SettingType.INTEGER, default=623, minimum=1, maximum=65535),
    Setting("password", "Password", secret=True),
    Setting("privilege", "Privilege", SettingType.CHOICE, default="admin", choices=("user", "admin")),
    Setting("verify_tls", "Verify TLS", SettingType.BOOLEAN, default=True),
    Setting("delay", "Delay", SettingType.NUMBER, default=0.0),
)


def field_of(raw):
    with pytest.raises(PowerSettingsError) as caught:
        SCHEMA.validate(raw)
    return caught.value.field, str(caught.value)


def test_defaults_filled():
    """Missing optional settings take their defaults."""
    assert SCHEMA.validate({"address": "10.0.0.1"}) == {
        "address": "10.0.0.1", "port": 623, "password": None,
        "privilege": "admin", "verify_tls": True, "delay": 0.0,
    }


def test_values_converted():
    """Strings from forms and the CLI become integers, numbers and booleans."""
    cleaned = SCHEMA.validate({"address": "bmc-1.example", "port": "624", "verify_tls": "false", "delay": "2.5"})
    assert (cleaned["port"], cleaned["verify_tls"], cleaned["delay"]) == (624, False, 2.5)


@pytest.mark.parametrize(
    "raw, field",
    [
        ({}, "address"),
        ({"address": "not an address!"}, "address"),
        ({"address": "10.0.0.1", "port": "http"}, "port"),
        ({"address": "10.0.0.1", "port": 70000}, "port"),
        ({"address": "10.0.0.1", "port": True}, "port"),
        ({"address": "10.0.0.1", "privilege": "root"}, "privilege"),
        ({"address": "10.0.0.1", "verify_tls": "maybe"}, "verify_tls"),
        ({"address": "10.0.0.1", "delay": "soon"}, "delay"),
        ({"address": "10.0.0.1", "password": 1234}, "password"),
        ({"address": "10.0.0.1", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field(raw, field):
    """Every kind of bad input raises an error naming the field."""
    assert field_of(raw)[0] == field


def test_error_never_echoes_a_secret():
    """A bad secret's error names the field but not the value."""
    _, message = field_of({"address": "10.0.0.1", "password": ["hunter2"]})
    assert "hunter2" not in message


def test_not_a_mapping():
    """Settings that are not an object are refused."""
    with pytest.raises(PowerSettingsError):
        SCHEMA.validate(["address"])


def test_redact_hides_set_secrets_only():
    """Secrets with a value show as 'set'; empty secrets and the rest show as they are."""
    assert SCHEMA.redact({"address": "a", "password": "hunter2"}) == {"address": "a", "password": REDACTED}
    assert SCHEMA.redact({"password": None}) == {"password": None}


def test_secrets_split_out():
    """secrets() returns only the secret values, for storing apart."""
    assert SCHEMA.secrets({"address": "a", "password": "p"}) == {"password": "p"}


def test_describe_for_forms():
    """describe() gives every setting as JSON-ready data, in order."""
    described = SCHEMA.describe()
    assert [d["name"] for d in described] == ["address", "port", "password", "privilege", "verify_tls", "delay"]
    assert described[2]["secret"] is True and described[3]["choices"] == ["user", "admin"]
    assert described[1]["minimum"] == 1


def test_duplicate_names_refused():
    """A schema cannot declare one name twice."""
    with pytest.raises(ValueError):
        SettingsSchema(Setting("a", "A"), Setting("a", "A again"))


def test_ipv6_and_hostnames():
    """IPv6 addresses are normalised and hostnames accepted."""
    assert SCHEMA.validate({"address": "::0001"})["address"] == "::1"
    assert SCHEMA.validate({"address": "bmc-7.rack2.example."})["address"] == "bmc-7.rack2.example."


def test_an_integral_number_is_an_integer():
    """623.0 is the integer 623, as JSON Schema counts it; 1.5 is not an integer."""
    assert SCHEMA.validate({"address": "a", "port": 623.0})["port"] == 623
    assert field_of({"address": "a", "port": 1.5}) == ("port", "port: must be an integer")


def test_json_schema_of_the_settings():
    """Each setting's JSON Schema: its JSON type, bounds and choices, null or "" for the default, required if it must be given."""
    schema = SCHEMA.json_schema()
    assert schema["required"] == ["address"] and schema["additionalProperties"] is False
    assert schema["properties"]["port"] == {"anyOf": [DEFAULTED, {"type": "integer", "minimum": 1, "maximum": 65535}]}
    assert schema["properties"]["privilege"]["anyOf"][1] == {"type": "string", "enum": ["user", "admin"]}
    assert schema["properties"]["address"]["pattern"] == ADDRESS_PATTERN
    assert Setting("n", "N", required=True).json_schema() == {"type": "string", "minLength": 1}


@pytest.mark.parametrize("address", ["::", "1::", "::ffff", "1:2:3:4:5:6:7:8", "fe80::1:2", "10.0.0.1", "bmc-7.example."])
def test_address_pattern_takes_what_the_setting_takes(address):
    """Addresses the document's pattern takes, the address setting takes too."""
    assert re.fullmatch(ADDRESS_PATTERN[1:-1], address)
    assert SCHEMA.validate({"address": address})["address"]


@pytest.mark.parametrize("address", ["a..", "b\u00fccher.example", "fe80::1%eth0", " 10.0.0.1", "-a", "a" * 64])
def test_address_pattern_is_no_looser(address):
    """The document's pattern refuses odd addresses the setting once took (several dots, non-ASCII, zones, spaces) and bad ones."""
    assert not re.fullmatch(ADDRESS_PATTERN[1:-1], address)


@pytest.mark.parametrize(
    "kind, value, sent",
    [
        ("integer", "623", 623), ("integer", " -5 ", -5), ("integer", "6x", "6x"), ("integer", "", ""),
        ("number", "2.5", 2.5), ("number", "nan", "nan"), ("number", "soon", "soon"),
        ("boolean", "Yes", True), ("boolean", "off", False), ("boolean", "maybe", "maybe"),
        ("string", "623", "623"), ("choice", "1", "1"), (None, "7", "7"),
    ],
)
def test_typed_value(kind, value, sent):
    """A typed value takes its setting's JSON type when it converts, and stays as typed when it does not."""
    assert typed_value(kind, value) == sent


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "-inf", "nan"])
def test_number_refuses_what_is_not_finite(value):
    """A number setting refuses NaN and infinities, which slip past every bound, naming the field."""
    assert field_of({"address": "10.0.0.1", "delay": value}) == ("delay", "delay: must be a number")
