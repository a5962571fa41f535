"""
The ``redfish`` power type: its settings, and the checks of its address and
system id (:mod:`~pserv.power.types.redfish_endpoint` parses the address).
"""

from __future__ import annotations

from typing import Any, Mapping

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import ADDRESS_MAX, HOSTNAME_PATTERN, IPV6_PATTERN, Setting, SettingsSchema, SettingType
from pserv.power.types.base import PowerType
from pserv.power.types.bmc_limits import BMC_LIMITS
from pserv.power.types.redfish_endpoint import Endpoint, parse_address

SYSTEMS_PATH = "/redfish/v1/"
"""Where a ``system_id`` given as a path must start."""

SETTINGS = SettingsSchema(
    Setting("address", "BMC address", required=True,
            help="host, host:port or URL (https://host:port); HTTPS unless the URL says http"),
    Setting("username", "Username"),
    Setting("password", "Password", secret=True),
    Setting("system_id", "System id",
            help="the ComputerSystem's Id or path; needed when the BMC has several"),
    Setting("verify_tls", "Verify TLS certificate", SettingType.BOOLEAN, default=True,
            help="turn off only for a BMC with a self-signed certificate"),
    *BMC_LIMITS,
)
"""The ``redfish`` settings, in form order."""


def endpoint(params: Mapping[str, Any]) -> Endpoint:
    """
    The service a node's ``address`` and ``verify_tls`` name.

    :raises PowerSettingsError: naming ``address`` (or ``verify_tls``).
    """
    value = params.get("verify_tls", True)
    verify = SETTINGS["verify_tls"].clean(value) if value is not None else True
    return parse_address(params.get("address"), verify)


def system_id(params: Mapping[str, Any]) -> str | None:
    """
    The node's ``system_id``, or ``None`` for the BMC's only system.

    :raises PowerSettingsError: naming ``system_id``, for a path outside
        ``/redfish/v1/``.
    """
    value = params.get("system_id") or None
    if value is not None and "/" in value and not value.startswith(SYSTEMS_PATH):
        raise PowerSettingsError("system_id: must be an Id or a /redfish/v1/ path", field="system_id")
    return value


def check(params: Mapping[str, Any]) -> None:
    """
    The address and the system id, beyond what the schema checks.

    :raises PowerSettingsError: naming the bad field.
    """
    endpoint(params)
    system_id(params)


PORT_PATTERN = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
"""A port from 1 to 65535, without leading zeros."""

ADDRESS_PATTERN = (
    f"^(?:(?:https?://)?(?:{HOSTNAME_PATTERN}|\\[{IPV6_PATTERN}\\])(?::{PORT_PATTERN})?"
    f"(?:/|/redfish/?|/redfish/v1/?)?|{IPV6_PATTERN})$"
)
"""What :func:`~pserv.power.types.redfish_endpoint.parse_address` takes, as the
API's document declares it: a host (or a bracketed IPv6 address), an
optional ``http://`` or ``https://``, port, and service path; or a bare
IPv6 address."""

RULES = (
    {
        "properties": {
            "address": {"pattern": ADDRESS_PATTERN, "maxLength": ADDRESS_MAX,
                        "description": "host, host:port or a URL (http or https) without a path but /redfish/v1"},
            "system_id": {"pattern": "^(?:[^/]*|/redfish/v1/[\\s\\S]*)$", "description": "an Id or a /redfish/v1/ path"},
        },
    },
)
""":func:`check` as JSON Schema, for the API's document."""

REDFISH = PowerType("redfish", "Redfish", SETTINGS, check, RULES, can_set_boot=True)
"""A ComputerSystem's power through a Redfish BMC."""
