"""
Requests checked against the OpenAPI document itself, so the API cannot
accept what its contract refuses, nor refuse for a reason the contract does
not declare: bodies against the component schemas, query arguments
against each operation's parameters, with errors naming the field.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Iterator

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from pserv.region.errors import Invalid
from pserv.region.openapi import document
from pserv.util.times import is_rfc3339

BASE = "urn:pserv:api"
"""The document's URI, for the validators' references into it."""

FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(is_rfc3339)

INTEGER = re.compile(r"-?[0-9]+")
"""An integer query argument: ASCII digits, no sign but ``-``, no spaces."""


@lru_cache(maxsize=256)
def ecma(pattern: str) -> re.Pattern[str]:
    """
    ``pattern`` (ECMA 262, as JSON Schema says) for Python's ``re``: a
    final ``$`` ends the text, as in ECMA, not before a last newline.
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
"""Draft 2020-12 with ECMA's ``$``, the API's one validator class."""


class Contract:
    """
    One region's document, and checks of requests against it.

    :param spec: the OpenAPI document (:func:`pserv.region.openapi.document`).
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        self.document = spec
        registry = Registry().with_resource(BASE, DRAFT202012.create_resource(spec))
        self._bodies = {
            name: Validator({"$ref": f"{BASE}#/components/schemas/{name}"}, registry=registry, format_checker=FORMATS)
            for name in spec["components"]["schemas"]
        }
        self._parameters = _parameters(spec, "query", registry)
        self._headers = _parameters(spec, "header", registry)
        self._fitting = Recent(REMEMBER)

    def body(self, schema: str, body: Any) -> dict[str, Any]:
        """
        ``body`` if it fits component schema ``schema``.  A body of one of
        the :data:`REMEMBERED` schemas found to fit lately is not checked
        again: the same JSON fits the same schema every time.

        :raises Invalid: naming the first bad field and why.
        """
        seen = _text(body) if schema in REMEMBERED else None
        if seen is not None and self._fitting.seen((schema, seen)):
            return body
        _raise_first(self._bodies[schema].iter_errors(body))
        if seen is not None:
            self._fitting.add((schema, seen))
        return body

    def query(self, operation: str, request: Any) -> dict[str, Any]:
        """
        The query arguments operation ``operation`` declares, each converted
        to its schema's type (an array, of items separated by commas),
        checked, and defaulted; ``None`` if absent without a default.
        Undeclared arguments are ignored.

        :raises Invalid: naming the argument.
        """
        found = {}
        for name, parameter, checker in self._parameters[operation]:
            raw = request.args.get(name.encode())
            if not raw:
                if parameter.get("required"):
                    raise Invalid(f"{name}: is required", name)
                found[name] = parameter["schema"].get("default")
                continue
            value = _convert(name, parameter["schema"], raw[-1])
            _raise_first(checker.iter_errors(value), name, field=name)
            found[name] = value
        return found

    def header(self, operation: str, request: Any, name: str) -> Any:
        """
        The header ``name`` that operation ``operation`` declares, converted
        to its schema's type as a query argument is (``Last-Event-ID`` is
        an integer), and checked; ``None`` if absent.

        :raises Invalid: naming the header.
        """
        raw = request.getHeader(name.encode("ascii"))
        if raw is None:
            return None
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        [(parameter, checker)] = [(p, c) for n, p, c in self._headers[operation] if n == name]
        value = _convert(name, parameter["schema"], text.encode("utf-8"))
        _raise_first(checker.iter_errors(value), name, field=name)
        return value


REMEMBERED = frozenset({"PowerRequest"})
"""The schemas whose fitting bodies are remembered: small, sent over and
over by scripts (``{"action": "on"}``), and holding no secret (a node's
settings, a password, are never kept)."""

REMEMBER = 1024
"""How many fitting bodies are remembered, the most recent."""


class Recent:
    """The last ``size`` keys added, the least recently seen forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[Any, None] = OrderedDict()

    def seen(self, key: Any) -> bool:
        """Whether ``key`` is among them (it is then the most recent)."""
        if key not in self._keys:
            return False
        self._keys.move_to_end(key)
        return True

    def add(self, key: Any) -> None:
        """Remember ``key``, forgetting the least recent beyond ``size``."""
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)


def _text(body: Any) -> str | None:
    """
    ``body`` as one text for each JSON value (keys sorted; ``1``, ``1.0``
    and ``true`` apart), or ``None`` for a long one, not worth keeping, or
    for what is not JSON.
    """
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not JSON (a caller's own object): checked every time
        return None
    return text if len(text) <= 1024 else None


def _parameters(spec: dict[str, Any], where: str, registry: Registry) -> dict[str, list[tuple[str, dict, Any]]]:
    """For each operation, its parameters ``in`` ``where``: (name, parameter, validator)."""
    return {
        operation["operationId"]: [
            (p["name"], p, Validator(p["schema"], registry=registry, format_checker=FORMATS))
            for p in item.get("parameters", []) + operation.get("parameters", [])
            if p["in"] == where
        ]
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    }


_PRODUCTION: list[Contract] = []


def check_body(schema: str, body: Any) -> dict[str, Any]:
    """
    ``body`` if it fits component schema ``schema`` of the production
    document (:data:`pserv.power.types.POWER_TYPES`).

    :raises Invalid: naming the first bad field and why.
    """
    if not _PRODUCTION:
        _PRODUCTION.append(Contract(document()))
    return _PRODUCTION[0].body(schema, body)


def _convert(name: str, schema: dict[str, Any], raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"{name}: must be UTF-8", name) from None
    if schema.get("type") == "array":
        try:
            return [_convert(name, schema["items"], part.encode()) for part in text.split(",")]
        except Invalid:
            raise Invalid(f"{name}: must be {schema.get('description', 'values separated by commas')}", name) from None
    if schema.get("type") == "integer" and not INTEGER.fullmatch(text):
        raise Invalid(f"{name}: must be an integer", name)
    return int(text) if INTEGER.fullmatch(text) and takes_integer(schema) else text


def takes_integer(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` (or one of its alternatives) is of integers: an
    argument of digits is then an integer."""
    return schema.get("type") == "integer" or any(takes_integer(s) for s in schema.get("oneOf", []))


def _raise_first(errors: Iterator[ValidationError], prefix: str | None = None, field: str | None = None) -> None:
    """
    Raise the first of ``errors``, its field's path under ``prefix``; the
    field named is ``field`` if given (a query argument, whatever item of
    it is wrong), else that path.
    """
    error = next(iter(sorted(errors, key=_depth)), None)
    if error is not None:
        where, reason = _describe(error)
        where = ".".join(p for p in (prefix, where) if p) or None
        raise Invalid(f"{where}: {reason}" if where else reason, field or where)


def _depth(error: ValidationError) -> tuple[bool, int]:
    """Errors of the fields sent before rules between fields; shallow first."""
    return "allOf" in error.relative_schema_path, len(error.path)


def _describe(error: ValidationError) -> tuple[str | None, str]:
    path = ".".join(str(p) for p in error.absolute_path) or None
    if error.validator == "oneOf" and all(set(b) == {"required"} for b in error.validator_value):
        return _describe_one_of(error, path)
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _describe_alternatives(error, path)
    if error.validator in ("required", "dependentRequired"):
        missing = _missing(error)
        return _join(path, missing), "is required" if error.validator == "required" else \
            f"is required with {next(k for k, v in error.validator_value.items() if missing in v)}"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))[0]
        return _join(path, extra), "is not a known field"
    if error.validator == "not" and list(error.validator_value) == ["required"]:
        # A field allowed only with others ("else": {"not": {"required": [...]}}).
        return _join(path, error.validator_value["required"][0]), error.schema.get("description", "is not allowed")
    return path, _reason(error, path)


def _missing(error: ValidationError) -> str:
    if error.validator == "required":
        return [k for k in error.validator_value if k not in error.instance][0]
    return sorted(n for k, names in error.validator_value.items() if k in error.instance
                  for n in names if n not in error.instance)[0]


def _join(path: str | None, name: str) -> str:
    return f"{path}.{name}" if path else name


def _reason(error: ValidationError, path: str | None) -> str:
    rule, value = error.validator, error.validator_value
    if rule == "enum" and "title" in error.schema:
        return f"unknown {error.schema['title']} {error.instance!r}; known: " + ", ".join(map(str, value))
    if rule == "enum":
        return "must be one of " + ", ".join("null" if v is None else str(v) for v in value)
    if rule == "type" and path is None:
        return f"the body must be a JSON {value}"
    if rule == "type":
        return "must be " + " or ".join(_TYPES[t] for t in ([value] if isinstance(value, str) else value))
    if rule in ("pattern", "not", "maxLength", "minLength") and "description" in error.schema:
        return "must be " + error.schema["description"]
    return _REASONS.get(rule, lambda v: "is not valid")(value)


_TYPES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
          "object": "an object", "array": "an array", "null": "null"}

_REASONS = {
    "pattern": lambda v: "has characters or a length that are not allowed",
    "minimum": lambda v: f"must be at least {_number(v)}",
    "exclusiveMinimum": lambda v: f"must be more than {_number(v)}",
    "maximum": lambda v: f"must be at most {_number(v)}",
    "exclusiveMaximum": lambda v: f"must be less than {_number(v)}",
    "minLength": lambda v: f"must be at least {v} characters",
    "maxLength": lambda v: f"must be at most {v} characters",
    "minItems": lambda v: f"must hold at least {v}",
    "maxItems": lambda v: f"must hold at most {v}",
    "const": lambda v: f"must be {v}",
    "not": lambda v: "is a value that is not allowed",
    "format": lambda v: f"must be a {v} (RFC 3339)" if v == "date-time" else f"must be a {v}",
}


def _number(value: float) -> str:
    """A bound as people write it: 300, not 300.0."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _describe_alternatives(error: ValidationError, path: str | None) -> tuple[str | None, str]:
    """Of ``anyOf``/``oneOf``, the failure of the alternative that is not "left to its default"."""
    chosen = [e for e in error.context if e.validator_value != [None, ""]] or list(error.context)
    first = sorted(chosen, key=lambda e: -len(e.path))[0]
    if first.validator in ("anyOf", "oneOf"):
        return _describe(first)
    return _describe(first)


def _describe_one_of(error: ValidationError, path: str | None) -> tuple[str | None, str]:
    """``oneOf`` of ``required`` lists, none or several present: which to give."""
    names = [n for branch in error.validator_value for n in branch["required"]]
    field = ".".join(p for p in (path, names[0]) if p)
    return field, "give either " + " or ".join(names)
