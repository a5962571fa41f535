"""
The UI's way in and out: ``GET /login`` (the form), ``POST /login`` (form
fields ``name``, ``password`` and an optional local ``next`` path),
``POST /logout`` (with the session's CSRF token), and ``GET /``, which
goes to the nodes page.

A mixin: the class serving it has ``access``, ``sessions``
(:class:`~pserv.region.sessions.Sessions`) and ``app = Routes(...,
LoginPages.routes)``.
"""

from __future__ import annotations

from typing import Any

from pserv.region.auth import Credential, form_fields
from pserv.region.endpoints import LOGIN, page, redirect
from pserv.region.html import render
from pserv.region.routes import Routes
from pserv.region.sessions import client_address

HOME = "/"
START = "/nodes"
"""Where ``/`` goes: the page an operator starts from."""
REFUSED = "Wrong name or password."


def local_path(text: str | None) -> str:
    """``text`` if it is a path on this site (``/...``, not ``//host``), else :data:`HOME`."""
    if not text or not text.startswith("/") or text.startswith(("//", "/\\")) or any(c in text for c in "\r\n"):
        return HOME
    return text


class LoginPages:
    """The login form, logging in and out, and the way in."""

    routes = Routes()

    @routes.route(LOGIN, methods=["GET"])
    @page
    async def login_form(self, request: Any, credential: Credential | None) -> bytes:
        wanted = request.args.get(b"next", [b""])[-1].decode("utf-8", "replace")
        return render(request, "login.html", next=local_path(wanted), error=None, name="")

    @routes.route(LOGIN, methods=["POST"])
    @page
    async def log_in(self, request: Any, credential: Credential | None) -> bytes:
        fields = form_fields(request)
        name, password, wanted = fields.get("name", ""), fields.get("password", ""), local_path(fields.get("next"))
        result = await self.sessions.log_in(name, password, client_address(request))
        if result.session is not None:
            self.sessions.set_cookie(request, result.session)
            return redirect(request, wanted)
        if result.retry_after is not None:
            request.setHeader(b"retry-after", str(result.retry_after).encode())
            error = f"Too many failed logins: try again in {result.retry_after} seconds."
            return render(request, "login.html", 429, next=wanted, error=error, name=name)
        return render(request, "login.html", 401, next=wanted, error=REFUSED, name=name)

    @routes.route("/logout", methods=["POST"])
    @page
    async def log_out(self, request: Any, credential: Credential | None) -> bytes:
        await self.sessions.log_out(request)
        return redirect(request, LOGIN)

    @routes.route(HOME, methods=["GET"])
    @page
    async def home(self, request: Any, credential: Credential | None) -> bytes:
        return redirect(request, START)
