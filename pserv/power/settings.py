"""
Driver settings declared as data.

One :class:`SettingsSchema` per driver validates API and CLI input, describes
the web UI's form (:meth:`SettingsSchema.describe`) and tells redaction which
values to hide (:meth:`SettingsSchema.redact`).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping

from pserv.power.errors import PowerSettingsError

REDACTED = "set"
"""What a secret setting shows instead of its value, once it has one."""

_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME_PATTERN = f"{_LABEL}(?:\\.{_LABEL})*\\.?"
"""A hostname as the API's document declares it (ASCII labels of at most 63
characters, one optional trailing dot); an ``address`` setting also takes
an IPv4 address this way.  Not anchored: for building patterns."""

_H16 = "[0-9A-Fa-f]{1,4}"
IPV6_PATTERN = "(?:" + "|".join([
    f"(?:{_H16}:){{7}}{_H16}",
    f"(?:{_H16}:){{1,7}}:",
    *[f"(?:{_H16}:){{1,{6 - n}}}(?::{_H16}){{1,{n + 1}}}" for n in range(6)],
    f":(?::{_H16}){{1,7}}",
    "::",
]) + ")"
"""An IPv6 address in the forms the API's document declares (no zone, no
embedded IPv4).  Not anchored: for building patterns."""

ADDRESS_PATTERN = f"^(?:{HOSTNAME_PATTERN}|{IPV6_PATTERN})$"
"""What an ``address`` setting takes, as the API's document declares it."""

ADDRESS_MAX = 253
"""The longest hostname."""

DEFAULTED = {"enum": [None, ""]}
"""The JSON Schema of a setting left to its default: ``null`` or ``""``."""

PRINTABLE_ASCII = "^[ -~]*$"
"""A pattern: printable ASCII only, where a protocol counts bytes."""


class SettingType(str, Enum):
    """
    The kinds of value a setting holds.
    """

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    ADDRESS = "address"
    """A hostname or an IP address."""


@dataclass(frozen=True, slots=True)
class Setting:
    """
    One driver setting.

    :ivar name: the key in ``power_parameters``.
    :ivar label: what the web UI shows.
    :ivar secret: never logged, never returned; shown as ``"set"``.
    """

    name: str
    label: str
    type: SettingType = SettingType.STRING
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def clean(self, value: Any) -> Any:
        """
        Convert and check one value.

        :raises PowerSettingsError: naming this setting, when the value is bad.
        """
        converted = _CONVERTERS[self.type](self, value)
        if self.minimum is not None and converted < self.minimum:
            raise self.error(f"must be at least {self.minimum:g}")
        if self.maximum is not None and converted > self.maximum:
            raise self.error(f"must be at most {self.maximum:g}")
        return converted

    def error(self, reason: str) -> PowerSettingsError:
        """
        An error that names this setting and says why, never its value.
        """
        return PowerSettingsError(f"{self.name}: {reason}", field=self.name)

    def describe(self) -> dict[str, Any]:
        """
        This setting as plain JSON-ready data, for forms and the API.
        """
        described: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type.value,
            "required": self.required,
            "default": self.default,
            "secret": self.secret,
        }
        if self.choices:
            described["choices"] = list(self.choices)
        if self.minimum is not None:
            described["minimum"] = self.minimum
        if self.maximum is not None:
            described["maximum"] = self.maximum
        if self.help:
            described["help"] = self.help
        return described

    @property
    def must_be_given(self) -> bool:
        """Whether leaving it out (or ``null``, or ``""``) is refused."""
        return self.required and self.default is None

    def json_schema(self) -> dict[str, Any]:
        """
        The values this setting takes, as a JSON Schema: its JSON type
        (strings are converted by forms and the CLI, not by the API), its
        bounds and choices; ``null`` and ``""`` (the default) unless it
        must be given.
        """
        schema = dict(_JSON_SCHEMAS[self.type])
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.must_be_given:
            return schema if self.type is not SettingType.STRING else {**schema, "minLength": 1}
        return {"anyOf": [DEFAULTED, schema]}


@dataclass(frozen=True)
class SettingsSchema:
    """
    A driver's settings, in the order a form shows them.
    """

    settings: tuple[Setting, ...]
    _by_name: dict[str, Setting] = field(init=False, repr=False, compare=False)

    def __init__(self, *settings: Setting) -> None:
        object.__setattr__(self, "settings", tuple(settings))
        object.__setattr__(self, "_by_name", {s.name: s for s in settings})
        if len(self._by_name) != len(settings):
            raise ValueError("setting names must be unique")

    def __iter__(self) -> Iterable[Setting]:
        return iter(self.settings)

    def __getitem__(self, name: str) -> Setting:
        return self._by_name[name]

    def validate(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """
        Check ``raw`` against the schema and fill in defaults.

        :raises PowerSettingsError: naming the first bad or missing field, or
            a field the driver does not know.
        """
        if not isinstance(raw, Mapping):
            raise PowerSettingsError("power_parameters: must be an object")
        unknown = sorted(set(raw) - set(self._by_name))
        if unknown:
            raise PowerSettingsError(
                f"{unknown[0]}: not a setting of this driver", field=unknown[0]
            )
        cleaned: dict[str, Any] = {}
        for setting in self.settings:
            value = raw.get(setting.name)
            if value is None or value == "":
                if setting.required and setting.default is None:
                    raise setting.error("is required")
                cleaned[setting.name] = setting.default
            else:
                cleaned[setting.name] = setting.clean(value)
        return cleaned

    def redact(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """
        ``values`` with every secret that has a value replaced by ``"set"``.
        """
        return {
            name: (
                REDACTED
                if name in self._by_name
                and self._by_name[name].secret
                and value not in (None, "")
                else value
            )
            for name, value in values.items()
        }

    def secrets(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """
        Only the secret values, for storing apart from the rest.
        """
        return {n: v for n, v in values.items() if n in self._by_name and self._by_name[n].secret}

    def describe(self) -> list[dict[str, Any]]:
        """
        The whole schema as JSON-ready data.
        """
        return [s.describe() for s in self.settings]

    def json_schema(self) -> dict[str, Any]:
        """
        The settings as a JSON Schema object: each setting's values, the
        ones that must be given, and no other key.
        """
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {s.name: s.json_schema() for s in self.settings},
            "additionalProperties": False,
        }
        required = [s.name for s in self.settings if s.must_be_given]
        if required:
            schema["required"] = required
        return schema


_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_BOOLEAN_TEXT = {"true": True, "yes": True, "1": True, "on": True,
                 "false": False, "no": False, "0": False, "off": False}


def typed_value(kind: str | None, text: str) -> Any:
    """
    ``text`` as typed in a form or on a command line, in the JSON type the
    API takes for a setting of type ``kind`` (integers, numbers and
    booleans are not strings there), if it converts; else as typed, for
    the validation to refuse naming the setting.  Empty stays empty (the
    default).
    """
    stripped = text.strip()
    if text == "" or kind not in ("integer", "number", "boolean"):
        return text
    if kind == "integer":
        return int(stripped) if _INTEGER_TEXT.fullmatch(stripped) else text
    if kind == "boolean":
        return _BOOLEAN_TEXT.get(stripped.lower(), text)
    try:
        number = float(stripped)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def _string(setting: Setting, value: Any) -> str:
    if not isinstance(value, str):
        raise setting.error("must be a string")
    return value


def _integer(setting: Setting, value: Any) -> int:
    if isinstance(value, bool):
        raise setting.error("must be an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int):
        return value
    raise setting.error("must be an integer")


def _number(setting: Setting, value: Any) -> float:
    if isinstance(value, bool):
        raise setting.error("must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise setting.error("must be a number") from None
    if not math.isfinite(number):
        raise setting.error("must be a number")
    return number


def _boolean(setting: Setting, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
        return False
    raise setting.error("must be true or false")


def _choice(setting: Setting, value: Any) -> str:
    if value not in setting.choices:
        raise setting.error("must be one of " + ", ".join(setting.choices))
    return value


def _address(setting: Setting, value: Any) -> str:
    text = _string(setting, value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if not text or len(text) > 253 or not all(_hostname_label(l) for l in labels):
        raise setting.error("must be an IP address or a hostname")
    return text


def _hostname_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isalnum() or c == "-" for c in label)
    )


_JSON_SCHEMAS: dict[SettingType, dict[str, Any]] = {
    SettingType.STRING: {"type": "string"},
    SettingType.INTEGER: {"type": "integer"},
    SettingType.NUMBER: {"type": "number"},
    SettingType.BOOLEAN: {"type": "boolean"},
    SettingType.CHOICE: {"type": "string"},
    SettingType.ADDRESS: {"type": "string", "pattern": ADDRESS_PATTERN, "maxLength": ADDRESS_MAX,
                          "description": "an IP address or a hostname"},
}
"""Each setting type's JSON Schema, before bounds and choices."""

_CONVERTERS = {
    SettingType.STRING: _string,
    SettingType.INTEGER: _integer,
    SettingType.NUMBER: _number,
    SettingType.BOOLEAN: _boolean,
    SettingType.CHOICE: _choice,
    SettingType.ADDRESS: _address,
}
