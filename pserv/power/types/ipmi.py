"""
The ``ipmi`` power type: its settings, and what each backend can honour.

Two backends drive IPMI (:mod:`pserv.power.drivers.ipmi`): ``pyghmi``
(IPMI 2.0 RMCP+, lanplus) and ``python-ipmi`` (IPMI 1.5 LAN, for old BMCs).
Their limits are checked here, as pure functions of a node's settings, so
the region refuses what the cluster's backend would refuse, with the same
message, without loading either library.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from pserv.power.settings import DEFAULTED, HOSTNAME_PATTERN, PRINTABLE_ASCII, Setting, SettingsSchema, SettingType
from pserv.power.types.base import Check, PowerType
from pserv.power.types.bmc_limits import BMC_LIMITS

BACKENDS = ("pyghmi", "python-ipmi")
"""The ``backend`` choices; the first is the default."""

PRIVILEGE_LEVELS: dict[str, int] = {
    "callback": 1,
    "user": 2,
    "operator": 3,
    "admin": 4,
}
"""IPMI privilege names, as the settings spell them, to their wire values."""

PYGHMI_CIPHER_SUITES = (3, 17)
"""The cipher suites the pyghmi backend can propose: SHA-1 and SHA-256, AES."""

PYTHON_IPMI_PRIVILEGES = ("user", "operator", "admin")
"""The privileges python-ipmi can ask for."""

SETTINGS = SettingsSchema(
    Setting("address", "BMC address", SettingType.ADDRESS, required=True),
    Setting("port", "UDP port", SettingType.INTEGER, default=623, minimum=1, maximum=65535),
    Setting("username", "Username", help="Empty for the anonymous (null) user."),
    Setting("password", "Password", secret=True),
    Setting(
        "privilege",
        "Privilege level",
        SettingType.CHOICE,
        default="admin",
        choices=tuple(PRIVILEGE_LEVELS),
        help="Power control needs operator or admin.",
    ),
    Setting(
        "cipher_suite",
        "Cipher suite",
        SettingType.INTEGER,
        default=3,
        minimum=0,
        maximum=17,
        help="3 (SHA-1, AES) or 17 (SHA-256, AES) with pyghmi; used as is, "
        "without asking the BMC which suites it has.",
    ),
    Setting("kg", "BMC key (Kg)", secret=True, help="Only if the BMC has one set."),
    Setting(
        "backend",
        "Backend",
        SettingType.CHOICE,
        default=BACKENDS[0],
        choices=BACKENDS,
        help="pyghmi: IPMI 2.0 (lanplus). python-ipmi: IPMI 1.5 (lan), for old BMCs.",
    ),
    *BMC_LIMITS,
)
"""The ``ipmi`` settings, in form order."""


def check_pyghmi(params: Mapping[str, Any]) -> None:
    """
    Refuse what the pyghmi backend cannot honour.

    :param params: settings the schema has cleaned.
    :raises PowerSettingsError: naming the field.
    """
    if params["cipher_suite"] not in PYGHMI_CIPHER_SUITES:
        raise SETTINGS["cipher_suite"].error("the pyghmi backend supports suites 3 and 17")
    if _bytes(params, "password") > 20:
        raise SETTINGS["password"].error("must be at most 20 bytes for IPMI 2.0")
    if _bytes(params, "username") > 16:
        raise SETTINGS["username"].error("must be at most 16 bytes")


def check_python_ipmi(params: Mapping[str, Any]) -> None:
    """
    Refuse what IPMI 1.5 or python-ipmi cannot honour.

    :param params: settings the schema has cleaned.
    :raises PowerSettingsError: naming the field.
    """
    if params["cipher_suite"] != 3:
        raise SETTINGS["cipher_suite"].error("IPMI 1.5 (python-ipmi) has no cipher suites")
    if params.get("kg"):
        raise SETTINGS["kg"].error("IPMI 1.5 (python-ipmi) has no Kg")
    if params["privilege"] not in PYTHON_IPMI_PRIVILEGES:
        raise SETTINGS["privilege"].error("python-ipmi supports user, operator and admin")
    if _bytes(params, "password") > 16:
        raise SETTINGS["password"].error("must be at most 16 bytes for IPMI 1.5")
    if _bytes(params, "username") > 16:
        raise SETTINGS["username"].error("must be at most 16 bytes")
    if is_ipv6(params["address"]):
        raise SETTINGS["address"].error("python-ipmi reaches IPv4 addresses and names only")


BACKEND_CHECKS: dict[str, Check] = {"pyghmi": check_pyghmi, "python-ipmi": check_python_ipmi}
"""Each backend's limits, by the ``backend`` setting."""


def check(params: Mapping[str, Any]) -> None:
    """
    Refuse what the node's backend cannot honour.

    :raises PowerSettingsError: naming the field.
    """
    BACKEND_CHECKS[params["backend"]](params)


def is_ipv6(address: str) -> bool:
    """Whether ``address`` is an IPv6 literal (not a name, not IPv4)."""
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def _bytes(params: Mapping[str, Any], name: str) -> int:
    return len((params.get(name) or "").encode("utf-8"))


def _within(limit: int) -> dict[str, Any]:
    return {"maxLength": limit, "pattern": PRINTABLE_ASCII, "description": f"at most {limit} printable ASCII characters"}


PYGHMI_RULE = {
    "properties": {
        "cipher_suite": {"anyOf": [DEFAULTED, {"enum": list(PYGHMI_CIPHER_SUITES)}]},
        "password": _within(20),
        "username": _within(16),
    },
}
""":func:`check_pyghmi` as JSON Schema (user names and passwords in printable ASCII)."""

PYTHON_IPMI_RULE = {
    "properties": {
        "cipher_suite": {"anyOf": [DEFAULTED, {"const": 3}]},
        "kg": DEFAULTED,
        "privilege": {"anyOf": [DEFAULTED, {"enum": list(PYTHON_IPMI_PRIVILEGES)}]},
        "password": _within(16),
        "username": _within(16),
        "address": {"pattern": f"^{HOSTNAME_PATTERN}$", "description": "an IPv4 address or a hostname (python-ipmi)"},
    },
}
""":func:`check_python_ipmi` as JSON Schema."""

RULES = (
    {
        "if": {"properties": {"backend": {"const": "python-ipmi"}}, "required": ["backend"]},
        "then": PYTHON_IPMI_RULE,
        "else": PYGHMI_RULE,
    },
)
"""Each backend's limits, by the ``backend`` setting, for the API's document."""

IPMI = PowerType("ipmi", "IPMI", SETTINGS, check, RULES, can_set_boot=True)
"""Chassis power over IPMI-over-LAN."""
