"""
What every page handler does: read its query arguments and render its
template for the credential that asked, with the region's time (ages on
the page are measured against it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlencode

from pserv.region.auth import Credential
from pserv.region.errors import Invalid
from pserv.region.html import render


def show(request: Any, template: str, credential: Credential | None, now: datetime, status: int = 200,
         **context: Any) -> bytes:
    """The page ``template`` for ``credential``, with ``now`` and ``context``."""
    return render(request, template, status, credential=credential, now=now, **context)


def arg(request: Any, name: str) -> str:
    """The query argument ``name`` (its last value), stripped; empty if absent."""
    raw = request.args.get(name.encode(), [b""])[-1]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Invalid(f"{name}: must be UTF-8", name) from None


def whole_number(text: str, name: str, default: int | None = None) -> int | None:
    """
    ``text`` as a whole number from 1; ``default`` if empty.

    :raises Invalid: naming ``name`` for anything else.
    """
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1 or len(text) > 9:
        raise Invalid(f"{name}: must be a whole number from 1", name)
    return int(text)


def link(path: str, args: Mapping[str, Any], **changes: Any) -> str:
    """``path`` with the query ``args`` changed by ``changes`` (``None`` or empty: left out)."""
    merged = {**args, **changes}
    query = urlencode([(k, v) for k, v in merged.items() if v not in (None, "")])
    return f"{path}?{query}" if query else path
