"""
The admins' pages: ``/users`` (list, add a user with a name, password
and role, change a user's role, disable or enable) and ``/tokens`` (list,
make one, shown once on the page that makes it, revoke).  Each change is
checked and made as the admin API makes it (the contract's ``UserCreate``,
``UserUpdate`` and ``TokenCreate``, then
:class:`~pserv.region.admin_api.AdminAPI`'s ``add_user``,
``change_user``, ``add_token`` and ``remove_token``); a refused form is
shown again with the error next to its field (never the password).

A mixin: the class serving it has ``database``, ``access``, ``contract``,
``now()`` and :class:`~pserv.region.admin_api.AdminAPI`.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

from pserv.region.auth import Credential, form_fields
from pserv.region.endpoints import page, redirect
from pserv.region.errors import RegionError
from pserv.region.roles import Role
from pserv.region.routes import Routes
from pserv.region.store import tokens, users
from pserv.region.ui.view import arg, show, whole_number

MOST = 200
"""Users, or tokens, on one page."""

ROLES = [r.value for r in Role]


class AdminPages:
    """``/users`` and ``/tokens``."""

    routes = Routes()

    # Users

    @routes.route("/users", methods=["GET"])
    @page
    async def users_page(self, request: Any, credential: Credential) -> bytes:
        done = {k: arg(request, k) for k in ("added", "changed") if arg(request, k)}
        return await self._users(request, credential, done=done)

    @routes.route("/users", methods=["POST"])
    @page
    async def add_user_form(self, request: Any, credential: Credential) -> bytes:
        form = form_fields(request)
        typed = {"name": form.get("name", "").strip(), "password": form.get("password", ""),
                 "role": form.get("role", "")}
        try:
            user = await self.add_user(self.contract.body("UserCreate", typed), credential.name)
        except RegionError as e:
            return await self._users(request, credential, e.status, {e.field or "": e.message}, typed)
        return redirect(request, f"/users?added={quote(user['name'])}")

    @routes.route("/users/<user>", methods=["POST"])
    @page
    async def change_user_form(self, request: Any, credential: Credential, user: str) -> bytes:
        form = form_fields(request)
        changes: dict[str, Any] = {}
        if form.get("role"):
            changes["role"] = form["role"]
        if form.get("disabled") in ("true", "false"):
            changes["disabled"] = form["disabled"] == "true"
        try:
            await self.change_user(user, self.contract.body("UserUpdate", changes), credential.name)
        except RegionError as e:
            return await self._users(request, credential, e.status, {f"{user}.{e.field or ''}": e.message})
        return redirect(request, f"/users?changed={quote(user)}")

    async def _users(self, request: Any, credential: Credential, status: int = 200,
                     errors: Mapping[str, str] | None = None, typed: Mapping[str, str] | None = None,
                     done: Mapping[str, str] | None = None) -> bytes:
        after = whole_number(arg(request, "after"), "after")
        items, cursor = await self.database.run(users.list_users, MOST, after)
        return show(request, "users.html", credential, self.now(), status, section="users", users=items,
                    next=cursor, errors=errors or {}, typed=typed or {"role": Role.VIEWER.value}, roles=ROLES,
                    done=done or {})

    # Tokens

    @routes.route("/tokens", methods=["GET"])
    @page
    async def tokens_page(self, request: Any, credential: Credential) -> bytes:
        return await self._tokens(request, credential, revoked=arg(request, "revoked"))

    @routes.route("/tokens", methods=["POST"])
    @page
    async def add_token_form(self, request: Any, credential: Credential) -> bytes:
        form = form_fields(request)
        typed = {"name": form.get("name", "").strip(), "role": form.get("role", "")}
        try:
            made = await self.add_token(self.contract.body("TokenCreate", typed), credential.name)
        except RegionError as e:
            return await self._tokens(request, credential, e.status, {e.field or "": e.message}, typed)
        return await self._tokens(request, credential, 201, made=made)

    @routes.route("/tokens/<name>/revoke", methods=["POST"])
    @page
    async def revoke_token_form(self, request: Any, credential: Credential, name: str) -> bytes:
        await self.remove_token(credential, name)
        return redirect(request, f"/tokens?revoked={quote(name)}")

    async def _tokens(self, request: Any, credential: Credential, status: int = 200,
                      errors: Mapping[str, str] | None = None, typed: Mapping[str, str] | None = None,
                      made: Mapping[str, Any] | None = None, revoked: str = "") -> bytes:
        after = whole_number(arg(request, "after"), "after")
        items, cursor = await self.database.run(tokens.list_tokens, MOST, after)
        return show(request, "tokens.html", credential, self.now(), status, section="tokens", tokens=items,
                    next=cursor, errors=errors or {}, typed=typed or {"role": Role.VIEWER.value}, roles=ROLES,
                    made=made, revoked=revoked)
