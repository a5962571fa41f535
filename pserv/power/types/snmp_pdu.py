"""
The ``snmp_pdu`` power type: one outlet of a switched PDU.  Its settings,
and the ones each SNMP version requires.  The vendors it can switch are
the table in :mod:`~pserv.power.types.snmp_vendors`.
"""

from __future__ import annotations

from typing import Any, Mapping

from pserv.power.settings import Setting, SettingsSchema, SettingType
from pserv.power.types.base import PowerType
from pserv.power.types.bmc_limits import BMC_LIMITS
from pserv.power.types.snmp_vendors import AUTO, vendor_names

AUTH_PROTOCOL_NAMES = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
"""The ``v3_auth_protocol`` choices (the driver maps each to pysnmp's)."""

PRIV_PROTOCOL_NAMES = ("none", "DES", "AES", "AES192", "AES256", "AES192C", "AES256C")
"""The ``v3_priv_protocol`` choices; ``none`` means authNoPriv."""

MIN_V3_KEY = 8
"""SNMPv3 passphrases shorter than this are refused (RFC 3414, net-snmp)."""

SETTINGS = SettingsSchema(
    Setting("address", "PDU address", SettingType.ADDRESS, required=True),
    Setting("port", "SNMP UDP port", SettingType.INTEGER, default=161, minimum=1, maximum=65535),
    Setting(
        "vendor", "PDU vendor", SettingType.CHOICE, default=AUTO,
        choices=vendor_names(),
        help="auto reads sysObjectID to pick the vendor",
    ),
    Setting("outlet", "Outlet number", SettingType.INTEGER, required=True, minimum=1),
    Setting("version", "SNMP version", SettingType.CHOICE, default="2c", choices=("1", "2c", "3")),
    Setting("community", "Community (read)", secret=True, help="SNMPv1/v2c"),
    Setting(
        "write_community", "Write community", secret=True,
        help="SNMPv1/v2c community for switching; defaults to community",
    ),
    Setting("v3_user", "SNMPv3 user"),
    Setting(
        "v3_auth_protocol", "SNMPv3 authentication protocol", SettingType.CHOICE,
        default="SHA", choices=AUTH_PROTOCOL_NAMES,
    ),
    Setting("v3_auth_key", "SNMPv3 authentication key", secret=True),
    Setting(
        "v3_priv_protocol", "SNMPv3 privacy protocol", SettingType.CHOICE,
        default="AES", choices=PRIV_PROTOCOL_NAMES,
        help="none means authNoPriv",
    ),
    Setting("v3_priv_key", "SNMPv3 privacy key", secret=True),
    Setting(
        "cycle_delay", "Seconds off during a power cycle", SettingType.NUMBER,
        default=5.0, minimum=0, maximum=3600,
    ),
    *BMC_LIMITS,
)
"""The ``snmp_pdu`` settings, in form order."""


def check_credentials(params: Mapping[str, Any]) -> None:
    """
    Check the settings that depend on ``version``.

    :raises PowerSettingsError: naming the missing or bad field.
    """
    version = params["version"]
    if version in ("1", "2c"):
        if not params.get("community"):
            raise SETTINGS["community"].error(f"is required for SNMP version {version}")
        return
    if not params.get("v3_user"):
        raise SETTINGS["v3_user"].error("is required for SNMP version 3")
    keys = ["v3_auth_key"]
    if params["v3_priv_protocol"] != "none":
        keys.append("v3_priv_key")
    for name in keys:
        key = params.get(name) or ""
        if not key:
            raise SETTINGS[name].error("is required for SNMP version 3")
        if len(key) < MIN_V3_KEY:
            raise SETTINGS[name].error(f"must be at least {MIN_V3_KEY} characters")


def _given(*names: str, length: int = 1) -> dict[str, Any]:
    return {"required": list(names), "properties": {n: {"type": "string", "minLength": length} for n in names}}


RULES = (
    {
        "if": {"properties": {"version": {"const": "3"}}, "required": ["version"]},
        "then": {
            "allOf": [
                _given("v3_user"),
                _given("v3_auth_key", length=MIN_V3_KEY),
                {
                    "if": {"properties": {"v3_priv_protocol": {"const": "none"}}, "required": ["v3_priv_protocol"]},
                    "else": _given("v3_priv_key", length=MIN_V3_KEY),
                },
            ],
        },
        "else": _given("community"),
    },
)
""":func:`check_credentials` as JSON Schema, for the API's document."""

SNMP_PDU = PowerType("snmp_pdu", "SNMP PDU outlet", SETTINGS, check_credentials, RULES)
"""One outlet of a switched PDU, over SNMP v1, v2c or v3."""
