"""
Tests for pserv.power.types.ipmi: the settings, and each backend's limits.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.types.ipmi import (
    BACKEND_CHECKS,
    BACKENDS,
    IPMI,
    PRIVILEGE_LEVELS,
    SETTINGS,
    check_pyghmi,
    check_python_ipmi,
    is_ipv6,
)


def settings(**changes):
    return SETTINGS.validate({"address": "10.0.0.1", "username": "admin", "password": "pw", **changes})


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"cipher_suite": 0}, "cipher_suite", "cipher_suite: the pyghmi backend supports suites 3 and 17"),
        ({"password": "p" * 21}, "password", "password: must be at most 20 bytes for IPMI 2.0"),
        ({"password": "é" * 11}, "password", "password: must be at most 20 bytes for IPMI 2.0"),
        ({"username": "u" * 17}, "username", "username: must be at most 16 bytes"),
    ],
)
def test_pyghmi_limits(changes, field, message):
    """pyghmi refuses other cipher suites, passwords over 20 bytes (UTF-8) and user names over 16."""
    with pytest.raises(PowerSettingsError) as caught:
        check_pyghmi(settings(**changes))
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_pyghmi_accepts_its_suites_kg_and_ipv6():
    """Suites 3 and 17, a Kg, a 20-byte password and an IPv6 address suit pyghmi."""
    for suite in (3, 17):
        check_pyghmi(settings(cipher_suite=suite, kg="Kg-1", password="p" * 20, address="fd00::1"))


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"cipher_suite": 17}, "cipher_suite"),
        ({"kg": "Kg-1"}, "kg"),
        ({"privilege": "callback"}, "privilege"),
        ({"password": "p" * 17}, "password"),
        ({"username": "u" * 17}, "username"),
        ({"address": "fd00::1"}, "address"),
    ],
)
def test_python_ipmi_limits(changes, field):
    """python-ipmi refuses cipher suites, Kg, callback, long credentials and IPv6, naming the field."""
    with pytest.raises(PowerSettingsError) as caught:
        check_python_ipmi(settings(backend="python-ipmi", **changes))
    assert caught.value.field == field


def test_python_ipmi_accepts_ipv4_names_and_16_bytes():
    """An IPv4 address or a name, 16-byte credentials and user, operator or admin suit python-ipmi."""
    for address, privilege in (("10.0.0.1", "user"), ("bmc.example", "operator"), ("bmc", "admin")):
        check_python_ipmi(settings(address=address, privilege=privilege, password="p" * 16, username="u" * 16))


def test_the_nodes_backend_decides():
    """The power type checks a node against its own backend's limits."""
    assert IPMI.validate({"address": "fd00::1", "kg": "Kg-1"})["backend"] == "pyghmi"
    with pytest.raises(PowerSettingsError) as caught:
        IPMI.validate({"address": "fd00::1", "backend": "python-ipmi"})
    assert caught.value.field == "address"


def test_tables_agree_with_the_schema():
    """Every backend choice has its check, and the privilege choices are the wire table's names."""
    assert tuple(BACKEND_CHECKS) == BACKENDS == SETTINGS["backend"].choices
    assert SETTINGS["privilege"].choices == tuple(PRIVILEGE_LEVELS)


def test_is_ipv6():
    """Only IPv6 literals are IPv6; names and IPv4 are not."""
    assert is_ipv6("fd00::1") and not is_ipv6("10.0.0.1") and not is_ipv6("bmc.example")
