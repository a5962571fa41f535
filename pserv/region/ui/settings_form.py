"""
A power type's settings (its schema as data,
:meth:`pserv.power.types.PowerTypes.describe`) as the fields of a form,
and a submitted form's fields as the API's ``power_parameters``: each
setting is the input ``power_parameters.NAME``, named as the API names
the setting when it refuses it, so an error lands next to its input.

Integers and numbers are ``type=number`` inputs, choices a ``<select>``,
booleans a checkbox (after a hidden ``false``, so unticked is sent too),
secrets ``type=password`` inputs that never show a value: empty keeps
what is stored, and the form says whether one is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pserv.power.settings import REDACTED, typed_value

PREFIX = "power_parameters."
"""What a setting's input name starts with."""


@dataclass(frozen=True)
class SettingField:
    """
    One setting as a form shows it.

    :ivar key: the input's name and id (``power_parameters.NAME``).
    :ivar setting: the setting as its power type describes it.
    :ivar value: what the input holds (never a secret's value).
    :ivar secret_set: for a secret on an edit form: whether one is stored.
    :ivar error: why the last submission was refused, if for this field.
    """

    key: str
    setting: dict[str, Any]
    value: str = ""
    checked: bool = False
    secret_set: bool | None = None
    error: str | None = None

    @property
    def input_type(self) -> str:
        """The ``<input type>`` (``select`` and ``checkbox`` are laid out apart)."""
        kind = self.setting["type"]
        if self.setting["secret"]:
            return "password"
        if "choices" in self.setting:
            return "select"
        return {"integer": "number", "number": "number", "boolean": "checkbox"}.get(kind, "text")

    @property
    def step(self) -> str:
        """A number input's step: 1 for integers, any for numbers."""
        return "1" if self.setting["type"] == "integer" else "any"


def find_type(described: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The power type ``name`` of ``described`` (``PowerTypes.describe()``), if it is one."""
    return next((d for d in described if d["name"] == name), None)


def blank_fields(power_type: dict[str, Any]) -> list[SettingField]:
    """A new node's fields: each holding its default."""
    return [_field(s, _text(s["default"]), s["default"] is True) for s in power_type["settings"]]


def stored_fields(power_type: dict[str, Any], parameters: Mapping[str, Any]) -> list[SettingField]:
    """
    An edit form's fields from a node's ``power_parameters`` (as the API
    shows them: a secret that is set is ``"set"``); a setting it lacks
    holds its default.
    """
    fields = []
    for s in power_type["settings"]:
        value = parameters.get(s["name"], s["default"])
        if s["secret"]:
            fields.append(_field(s, "", False, secret_set=parameters.get(s["name"]) == REDACTED))
        else:
            fields.append(_field(s, _text(value), value is True))
    return fields


def submitted_fields(power_type: dict[str, Any], form: Mapping[str, str], errors: Mapping[str, str],
                     stored: Mapping[str, Any] | None = None) -> list[SettingField]:
    """
    The fields as submitted, for the form shown again with its errors:
    what was typed, except secrets; ``stored`` (an edit's node's
    parameters) says which secrets are set.
    """
    fields = []
    for s in power_type["settings"]:
        key = PREFIX + s["name"]
        typed = form.get(key, "")
        secret_set = None if stored is None or not s["secret"] else stored.get(s["name"]) == REDACTED
        fields.append(_field(s, "" if s["secret"] else typed, typed == "true", secret_set, errors.get(key)))
    return fields


def parameters_of(power_type: dict[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """
    The ``power_parameters`` a submitted form asks for, each in its JSON
    type where it converts (:func:`~pserv.power.settings.typed_value`;
    what does not is sent as typed, for the API's checks to refuse naming
    it).  An empty input is left out: its default, or for a secret on an
    edit, the stored value kept.
    """
    parameters: dict[str, Any] = {}
    for s in power_type["settings"]:
        raw = form.get(PREFIX + s["name"])
        if raw is None or raw == "":
            continue
        parameters[s["name"]] = (raw == "true") if s["type"] == "boolean" else typed_value(s["type"], raw)
    return parameters


def field_key(power_type: dict[str, Any] | None, field: str | None) -> str | None:
    """
    The input an API error's ``field`` is about: a setting's name (as the
    store names it) or ``power_parameters.NAME`` (as the contract does)
    as its input's name; other fields as they are.
    """
    if field is None or power_type is None:
        return field
    names = {s["name"] for s in power_type["settings"]}
    return PREFIX + field if field in names else field


def _field(setting: dict[str, Any], value: str, checked: bool, secret_set: bool | None = None,
           error: str | None = None) -> SettingField:
    return SettingField(PREFIX + setting["name"], setting, value, checked, secret_set, error)


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value)
