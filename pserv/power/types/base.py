"""
A power type as data, and a table of power types by name.

A :class:`PowerType` is what both the region and the cluster know of one
``power_type``: the label a form shows, its :class:`SettingsSchema`, and the
checks between settings that a schema cannot express.  It holds no driver
code: the region validates nodes with it, and each driver class names the
power type it drives (``PowerDriver.power_type``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import SettingsSchema

Check = Callable[[Mapping[str, Any]], None]
"""A check of settings the schema has cleaned; raises ``PowerSettingsError``."""


def no_check(params: Mapping[str, Any]) -> None:
    """The check of a power type whose schema says everything."""


@dataclass(frozen=True)
class PowerType:
    """
    One ``power_type``.

    :ivar name: the ``power_type`` that selects it.
    :ivar label: what the web UI shows.
    :ivar settings: what a node of this type configures.
    :ivar check: the checks between settings, run on settings the schema
        has cleaned (defaults filled in); it raises ``PowerSettingsError``
        naming the field.
    :ivar rules: what :attr:`check` refuses, said as JSON Schema for the
        API's document (each rule applies to the settings as sent, where
        ``null`` or ``""`` stands for the default); at least as strict as
        :attr:`check`, so that whatever the document accepts is accepted.
    :ivar can_query: whether its hardware can read power at all.  ``False``
        (Wake-on-LAN, manual) is the only case in which a command is sent
        without reading first, and then only the one the request names; a
        type that can read but whose BMC refuses a read sends nothing
        (``docs/power-actions.md``).
    :ivar can_set_boot: whether its hardware can set the next boot device
        (IPMI, Redfish); a request with ``boot_device`` for a type that
        cannot (SNMP PDU, Wake-on-LAN, manual) is refused.
    """

    name: str
    label: str
    settings: SettingsSchema
    check: Check = no_check
    rules: Sequence[Mapping[str, Any]] = ()
    can_query: bool = True
    can_set_boot: bool = False

    def json_schema(self) -> dict[str, Any]:
        """
        The settings of this type as one JSON Schema: each setting's, and
        :attr:`rules`.
        """
        schema = self.settings.json_schema()
        if self.rules:
            schema["allOf"] = [dict(rule) for rule in self.rules]
        return schema

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """
        ``raw`` checked against the schema, then by :attr:`check`, with
        defaults filled in.

        :raises PowerSettingsError: naming the first bad field.
        """
        cleaned = self.settings.validate(raw)
        self.check(cleaned)
        return cleaned

    def describe(self) -> dict[str, Any]:
        """
        This power type as ``GET /api/v1/drivers`` shows it.
        """
        return {"name": self.name, "label": self.label, "settings": self.settings.describe(),
                "can_set_boot": self.can_set_boot}


def unknown_power_type(power_type: Any, known: Iterable[str]) -> PowerSettingsError:
    """
    The error for a ``power_type`` no table holds, naming the ones it does.
    """
    return PowerSettingsError(
        f"power_type: unknown driver {power_type!r}; known: " + ", ".join(sorted(known)),
        field="power_type",
    )


class PowerTypes(Mapping[str, PowerType]):
    """
    The power types one process accepts, by name, in name order.

    :raises ValueError: when two types have one name.
    """

    def __init__(self, types: Iterable[PowerType]) -> None:
        listed = sorted(types, key=lambda t: t.name)
        self._types = {t.name: t for t in listed}
        if len(self._types) != len(listed):
            raise ValueError("power type names must be unique")

    def __getitem__(self, name: str) -> PowerType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def find(self, power_type: Any) -> PowerType:
        """
        The power type named ``power_type``.

        :raises PowerSettingsError: naming the ``power_type`` field, when
            this table has no such type (or the name is not a string).
        """
        try:
            return self._types[power_type]
        except (KeyError, TypeError):
            raise unknown_power_type(power_type, self._types) from None

    def adding(self, *types: PowerType) -> PowerTypes:
        """
        A new table with ``types`` as well; this one is unchanged.

        :raises ValueError: when one of ``types`` has a name already here.
        """
        return PowerTypes([*self._types.values(), *types])

    def describe(self) -> list[dict[str, Any]]:
        """
        Every power type, in name order, as ``GET /api/v1/drivers`` serves them.
        """
        return [t.describe() for t in self._types.values()]
