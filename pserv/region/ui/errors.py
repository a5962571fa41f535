"""
The pages for a path the region does not serve, or a method it does not
take there: HTML for the UI's paths, where a browser is asking (the API's
paths, under ``/api/``, answer JSON: :mod:`pserv.region.api`).
"""

from __future__ import annotations

from typing import Any

from pserv.region.endpoints import error_page

API = b"/api/"
"""Where the JSON API's paths are."""


def is_page(request: Any) -> bool:
    """Whether ``request`` is for a UI path rather than the API's."""
    return not request.path.startswith(API)


def missing_page(request: Any) -> bytes:
    """The 404 page."""
    return error_page(request, 404, "There is no page at this address.")


def wrong_method_page(request: Any) -> bytes:
    """The 405 page."""
    return error_page(request, 405, f"This page does not take {request.method.decode('ascii', 'replace')}.")
