"""
``GET /static/<name>``: the UI's CSS and script (:mod:`pserv.region.ui.assets`),
public (the login page uses them), with their content type and a cache
header; anything else there is the 404 page.
"""

from __future__ import annotations

from typing import Any

from pserv.region.routes import Routes
from pserv.region.ui.assets import CACHE, asset
from pserv.region.ui.errors import missing_page


class StaticFiles:
    """The static files."""

    routes = Routes()

    @routes.route("/static/<path:name>", methods=["GET"])
    def static_file(self, request: Any, name: str) -> bytes:
        found = asset(name)
        if found is None:
            return missing_page(request)
        request.setHeader(b"content-type", found.content_type)
        request.setHeader(b"cache-control", CACHE)
        request.setHeader(b"x-content-type-options", b"nosniff")
        return found.body
