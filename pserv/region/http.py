"""
JSON over HTTP for the REST API: reading bounded bodies, answering JSON,
and a twisted.web Request that refuses oversized bodies without buffering.
Query arguments are read by :meth:`pserv.region.validation.Contract.query`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import urlencode

from twisted.web.server import Request

from pserv.region.errors import Invalid, RegionError

MAX_BODY = 1 << 20
"""The largest request body accepted: 1 MiB."""

_JSON = re.compile(rb"[ \t]*application/json[ \t]*(;.*)?", re.IGNORECASE | re.DOTALL)
"""A Content-Type of JSON, with or without parameters."""


class BodyTooLarge(RegionError):
    """The request body is over :data:`MAX_BODY`."""

    status = 413


class BoundedRequest(Request):
    """
    A Request that keeps at most :data:`MAX_BODY` bytes of body, and
    remembers that it dropped the rest.

    It also spares a JSON body twisted.web's search for a form: for every
    POST with a body, twisted.web parses the Content-Type header with the
    ``email`` package (a fifth of the reactor's time for a power request)
    only to find whether it is a form whose fields go in ``args``.  A
    body declared ``application/json`` is no form, so its ``args`` are
    the same without the search.
    """

    too_large = False

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        declared = self.requestHeaders.getRawHeaders(b"content-type")
        if declared and _JSON.fullmatch(declared[0]):
            self._parsePOSTFormSubmission = False
        super().requestReceived(command, path, version)

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > MAX_BODY:
            self.too_large = True
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large:
            return
        if self.content.tell() + len(data) > MAX_BODY:
            self.too_large = True
            return
        super().handleContentChunk(data)


def read_json(request: Any) -> Any:
    """
    The request's JSON body.

    :raises BodyTooLarge: over the limit.
    :raises Invalid: not JSON, or JSON holding an unpaired surrogate
        (``"\\ud800"``: JSON's grammar allows it, but it is no text, and no
        database stores it), naming where.
    """
    if getattr(request, "too_large", False):
        raise BodyTooLarge(f"the body is over {MAX_BODY} bytes")
    request.content.seek(0)
    raw = request.content.read()
    if not raw:
        raise Invalid("the body must be a JSON object")
    try:
        body = json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("the body is not valid JSON") from None
    where = _unpaired(body)
    if where is not None:
        field = ".".join(where) or None
        raise Invalid(f"{field or 'the body'}: holds an unpaired surrogate, which is no text", field)
    return body


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A surrogate code point: left in a string json.loads made, it was unpaired."""


def _unpaired(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The path to the first string in ``value`` holding an unpaired surrogate (a key: its object's path)."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        if any(_SURROGATE.search(key) for key in value):
            return path
        return _first(_unpaired(v, path + (k,)) for k, v in value.items())
    if isinstance(value, list):
        return _first(_unpaired(v, path + (str(i),)) for i, v in enumerate(value))
    return None


def _first(paths: Iterable[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    return next((p for p in paths if p is not None), None)


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity``, which Python reads and JSON has not."""
    raise ValueError(f"{constant} is not JSON")


def answer(request: Any, status: int, body: Any = None) -> bytes:
    """
    Set ``status`` and return ``body`` as JSON (nothing for ``None``).
    """
    request.setResponseCode(status)
    if body is None:
        return b""
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def next_page(request: Any, cursor: int | None, name: str = "after") -> str | None:
    """The path of the next page: this request's, with the cursor ``name`` moved to ``cursor``."""
    if cursor is None:
        return None
    args = {k.decode(): v[-1].decode() for k, v in request.args.items() if k != name.encode()}
    args[name] = str(cursor)
    return f"{request.path.decode()}?{urlencode(args)}"
