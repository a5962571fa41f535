"""
``--set KEY=VALUE`` power parameters as the API takes them: each value in
the JSON type ``GET /api/v1/drivers`` gives its setting (integers, numbers
and booleans are not strings in the API), converted as the web UI's forms
convert theirs (:func:`pserv.power.settings.typed_value`).  A value that
does not convert, or a key the driver does not have, is sent as given, for
the region to refuse naming it.
"""

from __future__ import annotations

from typing import Any, Mapping

from pserv.client.http import ApiClient
from pserv.power.settings import typed_value as convert

DRIVERS = "/api/v1/drivers"

__all__ = ["DRIVERS", "convert", "typed_settings"]


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
