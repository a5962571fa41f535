"""
``--set KEY=VALUE`` power parameters as the API takes them: each value in
the JSON type ``GET /api/v1/drivers`` gives its setting (integers, numbers
and booleans are not strings in the API).  A value that does not convert,
or a key the driver does not have, is sent as given, for the region to
refuse naming it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

from pserv.client.http import ApiClient

DRIVERS = "/api/v1/drivers"
_INTEGER = re.compile(r"-?[0-9]+")
_BOOLEANS = {"true": True, "yes": True, "1": True, "on": True,
             "false": False, "no": False, "0": False, "off": False}


async def typed_settings(api: ApiClient, power_type: str, settings: Mapping[str, str]) -> dict[str, Any]:
    """
    ``settings`` converted by the types of ``power_type``'s settings, as
    the region describes them; an empty value stays empty (the default).
    """
    if not settings:
        return dict(settings)
    drivers = (await api.get(DRIVERS)).body
    types = {s["name"]: s["type"] for d in drivers if d["name"] == power_type for s in d["settings"]}
    return {name: convert(types.get(name), value) for name, value in settings.items()}


def convert(kind: str | None, value: str) -> Any:
    """One ``--set`` value as a setting of type ``kind`` takes it, if it can."""
    text = value.strip()
    if value == "" or kind not in ("integer", "number", "boolean"):
        return value
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "boolean":
        return _BOOLEANS.get(text.lower(), value)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value
