"""
AMP argument types for pserv's RPC: a message (:mod:`pserv.rpc.messages`)
as JSON, its size checked, checked once by the receiving end as it
deserialises it; and helpers that cut lists of items to fit one AMP value.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from twisted.protocols import amp

from pserv.rpc import wire
from pserv.rpc.common import COMMAND_ERRORS, InvalidRequest, TooLarge

#: The largest value AMP can carry, in bytes (64 KiB - 1).
MAX_VALUE = amp.MAX_VALUE_LENGTH


def encode_json(value: Any) -> bytes:
    """
    ``value`` as compact ASCII JSON.

    :raises ValueError: for a value JSON cannot hold (NaN, a set, ...).
    """
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


def _no_constants(name: str) -> Any:
    raise ValueError(f"JSON: {name} is not allowed")


def decode_json(data: bytes) -> Any:
    """
    Parse JSON bytes (UTF-8), refusing NaN and infinities.

    :raises ValueError: if ``data`` is not JSON.
    """
    return json.loads(data.decode("utf-8"), parse_constant=_no_constants)


class Message(amp.Argument):
    """
    A message of one kind (a class of :mod:`pserv.rpc.messages`, or a tuple
    of one) as JSON of at most ``MAX_VALUE`` bytes.  The sender raises
    :class:`TooLarge` before anything is sent; the receiver checks the
    message as it deserialises it (:func:`pserv.rpc.wire.structure`) and
    raises :class:`InvalidRequest` naming the field.

    :param kind: what the value is.
    :param what: names the value in errors (``request``, ``outcome``).
    """

    def __init__(self, kind: Any, what: str, optional: bool = False) -> None:
        super().__init__(optional)
        self.kind = kind
        self.what = what

    def toString(self, inObject: Any) -> bytes:
        data = encode_json(wire.unstructure(inObject))
        if len(data) > MAX_VALUE:
            raise TooLarge(f"{self.what}: {len(data)} bytes of JSON; AMP carries at most {MAX_VALUE}")
        return data

    def fromString(self, inString: bytes) -> Any:
        try:
            value = decode_json(inString)
        except ValueError:
            raise InvalidRequest(f"{self.what}: not JSON") from None
        return wire.structure(value, self.kind, self.what)


class ParsesMessages:
    """
    Mixed into a command (before ``amp.Command``) whose arguments are
    messages: a message that fails its check answers ``INVALID_REQUEST``,
    as a responder's own :class:`InvalidRequest` does, and the connection
    stays up.  (AMP alone would answer an unknown error and drop it.)
    """

    @classmethod
    def parseArguments(cls, box: amp.AmpBox, protocol: amp.AMP) -> dict[str, Any]:
        try:
            return super().parseArguments(box, protocol)  # type: ignore[misc, no-any-return]
        except InvalidRequest as e:
            raise amp.RemoteAmpError(COMMAND_ERRORS[InvalidRequest], str(e)) from None


def item_sizes(items: Sequence[Any]) -> list[int]:
    """The encoded size of each item (a message, or plain data) of a JSON list."""
    return [len(encode_json(wire.unstructure(item))) for item in items]


def fitting_prefix(sizes: Sequence[int], limit: int = MAX_VALUE) -> int:
    """
    How many leading items, of these encoded sizes, fit in one JSON list of
    at most ``limit`` bytes (brackets and commas counted).
    """
    total = 1  # "["
    for count, size in enumerate(sizes):
        total += size + 1  # the item, then "," or "]"
        if total > limit:
            return count
    return len(sizes)


def split_to_fit(items: Sequence[Any], limit: int = MAX_VALUE) -> list[list[Any]]:
    """
    ``items`` cut, in order, into the fewest consecutive lists whose JSON
    each fits in ``limit`` bytes.

    :raises TooLarge: if one item alone does not fit.
    """
    sizes = item_sizes(items)
    batches: list[list[Any]] = []
    start = 0
    while start < len(items):
        count = fitting_prefix(sizes[start:], limit)
        if count == 0:
            raise TooLarge(f"item {start} is {sizes[start]} bytes of JSON; AMP carries at most {limit}")
        batches.append(list(items[start:start + count]))
        start += count
    return batches
