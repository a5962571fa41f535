"""
The one conversion between :mod:`pserv.rpc.messages` and the wire: a
``cattrs`` converter, strict where JSON is loose.

:func:`structure` is the check a message gets, once per hop, as the
receiving end deserialises it: integers are never booleans, numbers are
never booleans or strings, strings are strings, lists are JSON arrays, enums take only their values (and a field
marked :class:`~pserv.rpc.messages.Among` only those members), times are
ISO 8601.  A bad message is refused as
:class:`~pserv.rpc.common.InvalidRequest` naming the field
(``outcome: generation is missing``, ``page: nodes[0].actions[1].status is
not valid``).  Keys a class does not name are ignored, so a newer peer of
the same protocol version may add optional fields.

:func:`unstructure` is the other way: plain JSON data (enums as their
values, times as :func:`~pserv.util.times.iso_from_moment`).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Callable, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from pserv.rpc.common import InvalidRequest
from pserv.rpc.messages import Among
from pserv.util.times import iso_from_moment, moment_from_iso

T = TypeVar("T")


def _exactly(kind: type) -> Callable[[Any, Any], Any]:
    """Structures ``kind`` (or an enum of its values) from exactly a ``kind``, never a look-alike."""

    def structure(value: Any, target: type) -> Any:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return target(value) if issubclass(target, Enum) else value

    return structure


def _among(annotated: Any) -> Callable[[Any, Any], Any]:
    enum, *marks = get_args(annotated)
    allowed = next(mark for mark in marks if isinstance(mark, Among)).members

    def structure(value: Any, _: Any) -> Any:
        member = converter.structure(value, enum)
        if member not in allowed:
            raise ValueError(f"{member.value!r} is not allowed here")
        return member

    return structure


def _number(value: Any, _: Any) -> float:
    """A float from exactly a JSON number (an int or a float), never a bool or a string."""
    if type(value) not in (int, float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _is_among(kind: Any) -> bool:
    return get_origin(kind) is Annotated and any(isinstance(mark, Among) for mark in get_args(kind)[1:])


def _is_array(kind: Any) -> bool:
    args = get_args(kind)
    return get_origin(kind) is tuple and len(args) == 2 and args[1] is Ellipsis


def _array(kind: Any) -> Callable[[Any, Any], Any]:
    item = get_args(kind)[0]

    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(converter.structure(value, list[item]))  # type: ignore[valid-type]

    return structure


def _object(cls: type) -> Callable[[Any, Any], Any]:
    fields = make_dict_structure_fn(cls, converter)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError("must be an object")
        return fields(value, cls)

    return structure


def _mapping(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise TypeError("expected an object")
    return dict(value)


def _make_converter() -> cattrs.Converter:
    made = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    # The enums on the wire are str enums: the str hook makes them from their values.
    for kind in (int, str, bool):
        made.register_structure_hook(kind, _exactly(kind))
    made.register_structure_hook(float, _number)
    made.register_structure_hook_factory(_is_among, _among)
    made.register_structure_hook_factory(_is_array, _array)
    made.register_structure_hook_factory(attrs.has, _object)
    made.register_structure_hook_func(lambda t: t == dict[str, Any], _mapping)
    made.register_structure_hook(datetime, lambda value, _: moment_from_iso(value))
    made.register_unstructure_hook(str, lambda text: text.value if isinstance(text, Enum) else text)
    made.register_unstructure_hook(datetime, iso_from_moment)
    made.register_unstructure_hook(tuple, lambda items: [made.unstructure(item) for item in items])
    return made


converter = _make_converter()
"""The converter: use :func:`structure` and :func:`unstructure` rather than it."""


def unstructure(message: Any) -> Any:
    """A message (or a tuple of them, or plain data) as plain JSON data."""
    return converter.unstructure(message)


def structure(data: Any, kind: type[T] | Any, what: str) -> T:
    """
    ``data`` off the wire as a ``kind`` (a message class, or a tuple of one).

    :param what: names the value in errors (``request``, ``outcome``).
    :raises InvalidRequest: naming ``what`` and the first bad field.
    """
    try:
        return converter.structure(data, kind)  # type: ignore[no-any-return]
    except Exception as e:  # cattrs wraps every failure; the first one is named
        raise InvalidRequest(_describe(e, what)) from None


def _first_error(error: BaseException, path: str = "") -> tuple[str, BaseException]:
    """The path (``nodes[0].actions``) to the first leaf error, and that error."""
    if isinstance(error, (ClassValidationError, IterableValidationError)):
        with_notes, without = error.group_exceptions()
        if with_notes:
            inner, note = with_notes[0]
            step = f"[{note.index}]" if isinstance(error, IterableValidationError) else f".{note.name}"
            return _first_error(inner, path + step)
        if without:
            return _first_error(without[0], path)
    return path.lstrip("."), error


def _describe(error: BaseException, what: str) -> str:
    path, leaf = _first_error(error)
    if not path:
        return f"{what}: {leaf}"
    if isinstance(leaf, KeyError):
        return f"{what}: {path} is missing"
    return f"{what}: {path} is not valid"


def field_types(cls: type) -> list[tuple[str, str]]:
    """
    Each field of a message class and its type as it travels, as
    ``docs/rpc.md`` shows it (``"on" \\| "off"``, ``int or null``, ``list of
    `RecoveryAction```); a field with a default is marked optional.
    """
    hints = attrs.resolve_types(cls)
    rows = []
    for field in attrs.fields(hints):
        text = _type_text(field.type)
        rows.append((field.name, text if field.default is attrs.NOTHING else f"{text}, optional"))
    return rows


def _type_text(kind: Any) -> str:
    args = get_args(kind)
    if type(None) in args:
        return " or ".join(_type_text(arg) for arg in args if arg is not type(None)) + " or null"
    if _is_among(kind):
        allowed = next(mark for mark in args[1:] if isinstance(mark, Among)).members
        return " \\| ".join(f'"{member.value}"' for member in args[0] if member in allowed)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return " \\| ".join(f'"{member.value}"' for member in kind)
    if _is_array(kind):
        return f"list of {_type_text(args[0])}"
    if attrs.has(kind):
        return f"`{kind.__name__}`"
    return {int: "int", float: "number", str: "str", bool: "bool", datetime: "str (ISO 8601)"}.get(kind, "object")
