"""
The ``wol`` power type: Wake-on-LAN's settings and the MAC address's form.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from pserv.power.settings import Setting, SettingsSchema, SettingType
from pserv.power.types.base import PowerType

MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$", re.IGNORECASE)
"""A MAC address: six hex pairs, split by ``:`` or ``-`` throughout, or not at all."""

SETTINGS = SettingsSchema(
    Setting("mac", "MAC address", required=True, help="aa:bb:cc:dd:ee:ff"),
    Setting("broadcast", "Broadcast address", SettingType.ADDRESS, default="255.255.255.255"),
    Setting("port", "UDP port", SettingType.INTEGER, default=9, minimum=1, maximum=65535),
)
"""The ``wol`` settings, in form order."""


def check(params: Mapping[str, Any]) -> None:
    """
    The MAC address's form.

    :raises PowerSettingsError: naming ``mac``.
    """
    if not MAC.match(params["mac"]):
        raise SETTINGS["mac"].error("must be a MAC address like aa:bb:cc:dd:ee:ff")


_PAIR = "[0-9A-Fa-f]{2}"
MAC_PATTERN = f"^(?:{_PAIR}(?::{_PAIR}){{5}}|{_PAIR}(?:-{_PAIR}){{5}}|(?:{_PAIR}){{6}})$"
""":data:`MAC` as the API's document declares it."""

RULES = ({"properties": {"mac": {"pattern": MAC_PATTERN, "description": "a MAC address like aa:bb:cc:dd:ee:ff"}}},)
""":func:`check` as JSON Schema, for the API's document."""

WOL = PowerType("wol", "Wake-on-LAN", SETTINGS, check, RULES, can_query=False)
"""Switches nodes on with a magic packet, and nothing else: it cannot read power."""
