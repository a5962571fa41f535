"""
HTML for the UI: Jinja2 templates from the repository's ``templates/``
(installed as the package data ``pserv/templates/``, see setup.py), with
autoescaping, and the headers every page carries: no framing, no
content-type sniffing, no referrer to other sites, and a content security
policy that lets a page load only what the region itself serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pserv.region.permissions import allowed
from pserv.region.ui import formats
from pserv.region.ui.assets import static_url

HEADERS = {
    b"content-type": b"text/html; charset=utf-8",
    b"content-security-policy": b"default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"cache-control": b"no-store",
}


def template_dir() -> Path:
    """
    Where the templates are: ``pserv/templates`` where pserv is installed
    from a wheel, else the checkout's ``templates/``.
    """
    package = Path(__file__).resolve().parents[1]
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


_environment: list[Environment] = []


def environment() -> Environment:
    """
    The templates' Jinja2 environment, made on first use, with the UI's
    filters and tests (:mod:`pserv.region.ui.formats`) and two functions:
    ``allowed(role, method, route)`` (which buttons to show) and
    ``static(name)`` (a static file's versioned path).
    """
    if not _environment:
        made = Environment(
            loader=FileSystemLoader(template_dir()),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        made.filters.update(formats.FILTERS)
        made.tests.update(formats.TESTS)
        made.globals.update(allowed=allowed, static=static_url)
        _environment.append(made)
    return _environment[0]


def render(request: Any, template: str, status: int = 200, /, **context: Any) -> bytes:
    """
    The template ``template`` rendered with ``context`` (any names) as the
    answer to ``request``, with :data:`HEADERS` and ``status``.
    """
    request.setResponseCode(status)
    for header, value in HEADERS.items():
        request.setHeader(header, value)
    return environment().get_template(template).render(**context).encode("utf-8")
