"""
Tests for pserv.power.settings.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import REDACTED, Setting, SettingsSchema, SettingType

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
