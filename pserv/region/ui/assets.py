"""
The UI's static files: ``templates/static/`` (installed with the
templates), each read once and served from memory with its content type.
A page links a file by a path that names its content's digest
(``/static/pserv.css?v=1a2b3c4d``), so browsers may cache it for a day and
still see a new file the moment it changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CONTENT_TYPES = {
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
}
"""The kinds of static file served, by suffix; any other is not served."""

CACHE = b"public, max-age=86400"
"""How long a browser may keep a static file."""


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, content type and digest."""

    body: bytes
    content_type: bytes
    version: str


_assets: dict[str, Asset | None] = {}


def static_dir() -> Path:
    """Where the static files are: ``static/`` beside the templates."""
    from pserv.region.html import template_dir

    return template_dir() / "static"


def asset(name: str) -> Asset | None:
    """
    The static file ``name`` (a plain file name in the static directory),
    or ``None`` if there is none or it is of a kind not served.
    """
    if name not in _assets:
        _assets[name] = _read(name)
    return _assets[name]


def _read(name: str) -> Asset | None:
    kind = CONTENT_TYPES.get(Path(name).suffix)
    if kind is None or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = static_dir() / name
    if not path.is_file():
        return None
    body = path.read_bytes()
    return Asset(body, kind, hashlib.sha256(body).hexdigest()[:12])


def static_url(name: str) -> str:
    """The path a page links the static file ``name`` by, naming its version."""
    found = asset(name)
    if found is None:
        raise LookupError(f"no static file {name!r} in {static_dir()}")
    return f"/static/{name}?v={found.version}"
