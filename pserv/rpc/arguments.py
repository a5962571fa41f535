"""
AMP argument types for pserv's RPC: JSON values with their size checked,
and helpers that cut lists of items to fit one AMP value.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from twisted.protocols import amp

from pserv.rpc.common import TooLarge

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


class JSON(amp.Argument):
    """
    A JSON value of one kind (``dict`` or ``list``), at most ``MAX_VALUE``
    bytes once encoded.  The sender checks the size and raises
    :class:`TooLarge` before anything is sent.
    """

    def __init__(self, kind: type, optional: bool = False) -> None:
        super().__init__(optional)
        self.kind = kind

    def toString(self, inObject: Any) -> bytes:
        self._check_kind(inObject)
        data = encode_json(inObject)
        if len(data) > MAX_VALUE:
            raise TooLarge(f"a JSON {self.kind.__name__} of {len(data)} bytes; AMP carries at most {MAX_VALUE}")
        return data

    def fromString(self, inString: bytes) -> Any:
        value = decode_json(inString)
        self._check_kind(value)
        return value

    def _check_kind(self, value: Any) -> None:
        if not isinstance(value, self.kind):
            raise TypeError(f"expected a JSON {self.kind.__name__}, got {type(value).__name__}")


def item_sizes(items: Sequence[Any]) -> list[int]:
    """The encoded size of each item of a JSON list."""
    return [len(encode_json(item)) for item in items]


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
