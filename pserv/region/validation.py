"""
Request bodies checked against the OpenAPI document's own schemas, so the
API cannot accept what its contract refuses, with errors naming the field.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from pserv.region.errors import Invalid
from pserv.region.openapi import SCHEMAS

_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in SCHEMAS.items()}


def check_body(schema: str, body: Any) -> dict[str, Any]:
    """
    ``body`` if it fits component schema ``schema``.

    :raises Invalid: naming the first bad field and why.
    """
    error = next(iter(sorted(_VALIDATORS[schema].iter_errors(body), key=_depth)), None)
    if error is not None:
        field, reason = _describe(error)
        raise Invalid(f"{field}: {reason}" if field else reason, field)
    return body


def _depth(error: ValidationError) -> int:
    return len(error.path)


def _describe(error: ValidationError) -> tuple[str | None, str]:
    path = ".".join(str(p) for p in error.absolute_path) or None
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance][0]
        return _join(path, missing), "is required"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))[0]
        return _join(path, extra), "is not a known field"
    if error.validator == "enum":
        return path, "must be one of " + ", ".join(str(v) for v in error.validator_value)
    if error.validator == "type" and path is None:
        return None, f"the body must be a JSON {error.validator_value}"
    if error.validator == "type":
        expected = error.validator_value
        return path, "must be " + (" or ".join(expected) if isinstance(expected, list) else expected)
    if error.validator == "pattern":
        return path, "has characters or a length that are not allowed"
    if error.validator in BOUNDS:
        return path, f"must be {BOUNDS[error.validator]} {error.validator_value:g}"
    if error.validator == "not" and list(error.validator_value) == ["required"]:
        # A field allowed only with others ("else": {"not": {"required": [...]}}).
        return _join(path, error.validator_value["required"][0]), error.schema.get("description", "is not allowed")
    return path, "is not valid"


BOUNDS = {"minimum": "at least", "exclusiveMinimum": "more than", "maximum": "at most",
          "exclusiveMaximum": "less than"}


def _join(path: str | None, name: str) -> str:
    return f"{path}.{name}" if path else name
