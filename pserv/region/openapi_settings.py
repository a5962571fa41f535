"""
The ``power_parameters`` of each power type, as the API's document declares
them: read from the power types' settings and rules
(:meth:`pserv.power.types.PowerType.json_schema`), one component schema per
type for creating a node (``PowerParameters.<type>``) and one for changing
it (``PowerParametersUpdate.<type>``: a secret sent as ``"set"``, or left
out, keeps the value stored).  :mod:`pserv.region.openapi_schemas` puts
them in ``NodeCreate`` and ``NodeUpdate``, chosen by ``power_type``.
"""

from __future__ import annotations

from typing import Any, Iterable

from jsonschema import Draft202012Validator

from pserv.power.settings import REDACTED
from pserv.power.types import PowerType, PowerTypes

CREATE = "PowerParameters"
UPDATE = "PowerParametersUpdate"


def component(kind: str, power_type: str) -> str:
    """
    The component schema name of ``power_type``'s parameters.

    :param kind: :data:`CREATE` or :data:`UPDATE`.
    """
    return f"{kind}.{power_type}"


def parameter_schemas(power_types: PowerTypes) -> dict[str, Any]:
    """
    Every power type's parameter schemas, by component name.
    """
    schemas: dict[str, Any] = {}
    for power_type in power_types.values():
        schemas[component(CREATE, power_type.name)] = power_type.json_schema()
        schemas[component(UPDATE, power_type.name)] = keeping_secrets(power_type.json_schema(), _secrets(power_type))
    return schemas


def by_power_type(power_types: PowerTypes, kind: str, ref: Any) -> list[dict[str, Any]]:
    """
    ``if power_type is X then power_parameters is X's``, for each type: the
    ``allOf`` of ``NodeCreate`` (:data:`CREATE`) or ``NodeUpdate``.  On
    create, ``power_parameters`` must be given when ``{}`` would not do.

    :param ref: :func:`pserv.region.openapi_schemas.ref`.
    """
    rules = []
    for power_type in power_types.values():
        then: dict[str, Any] = {"properties": {"power_parameters": ref(component(kind, power_type.name))}}
        if kind == CREATE and not Draft202012Validator(power_type.json_schema()).is_valid({}):
            then["required"] = ["power_parameters"]
        rules.append({
            "if": {"properties": {"power_type": {"const": power_type.name}}, "required": ["power_type"]},
            "then": then,
        })
    return rules


def keeping_secrets(schema: Any, secrets: Iterable[str]) -> Any:
    """
    ``schema`` where each of ``secrets`` may also be ``"set"`` and need not
    be given: what a change may send, the value stored standing in.
    """
    names = frozenset(secrets)
    if isinstance(schema, list):
        return [keeping_secrets(s, names) for s in schema]
    if not isinstance(schema, dict):
        return schema
    changed = {key: keeping_secrets(value, names) for key, value in schema.items() if key != "properties"}
    if "required" in changed:
        changed["required"] = [n for n in changed["required"] if n not in names]
        if not changed["required"]:
            del changed["required"]
    if "properties" in schema:
        changed["properties"] = {
            name: ({"anyOf": [{"const": REDACTED}, value]} if name in names else keeping_secrets(value, names))
            for name, value in schema["properties"].items()
        }
    return changed


def _secrets(power_type: PowerType) -> list[str]:
    return [s.name for s in power_type.settings if s.secret]
