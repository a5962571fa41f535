"""
The API's routes for who is asking (``/api/v1/whoami``) and, for admins,
users and tokens (``/api/v1/users``, ``/api/v1/tokens``).  Passwords are
hashed on the reactor's thread pool; neither a password nor a hash is
ever in an answer, and a token only in the answer that creates it.

A mixin: the class serving it has ``database``, ``access``, ``now()`` and
``app = Routes(AdminAPI.routes, ...)``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pserv.region.auth import Credential
from pserv.region.endpoints import credential_of, endpoint
from pserv.region.errors import Conflict
from pserv.region.http import next_page, read_json
from pserv.region.passwords import hash_password, off_the_reactor
from pserv.region.roles import Role
from pserv.region.routes import Routes
from pserv.region.store import tokens, users


class AdminAPI:
    """whoami, and the admin's users and tokens."""

    routes = Routes()

    @routes.route("/api/v1/whoami", methods=["GET"])
    @endpoint
    async def whoami(self, request: Any, who: str) -> tuple[int, Any]:
        return 200, credential_of(request).json()

    # Users

    @routes.route("/api/v1/users", methods=["GET"])
    @endpoint
    async def list_users(self, request: Any, who: str) -> tuple[int, Any]:
        items, cursor = await self.database.run(users.list_users, *self._page("listUsers", request))
        return 200, {"items": items, "next": next_page(request, cursor)}

    @routes.route("/api/v1/users", methods=["POST"])
    @endpoint
    async def create_user(self, request: Any, who: str) -> tuple[int, Any]:
        user = await self.add_user(self.contract.body("UserCreate", read_json(request)), who)
        request.setHeader(b"location", f"/api/v1/users/{quote(user['name'])}".encode())
        return 201, user

    @routes.route("/api/v1/users/<user>", methods=["GET"])
    @endpoint
    async def get_user(self, request: Any, who: str, user: str) -> tuple[int, Any]:
        return 200, await self.database.run(users.get_user, user)

    @routes.route("/api/v1/users/<user>", methods=["PATCH"])
    @endpoint
    async def update_user(self, request: Any, who: str, user: str) -> tuple[int, Any]:
        return 200, await self.change_user(user, self.contract.body("UserUpdate", read_json(request)), who)

    def _page(self, operation: str, request: Any) -> tuple[int, int | None]:
        """A list's ``limit`` and ``after``, checked by the document."""
        query = self.contract.query(operation, request)
        return query["limit"], query["after"]

    async def _hash(self, password: str) -> str:
        return await off_the_reactor(self.database.reactor, hash_password, password)

    # Tokens

    @routes.route("/api/v1/tokens", methods=["GET"])
    @endpoint
    async def list_tokens(self, request: Any, who: str) -> tuple[int, Any]:
        items, cursor = await self.database.run(tokens.list_tokens, *self._page("listTokens", request))
        return 200, {"items": items, "next": next_page(request, cursor)}

    @routes.route("/api/v1/tokens", methods=["POST"])
    @endpoint
    async def create_token(self, request: Any, who: str) -> tuple[int, Any]:
        return 201, await self.add_token(self.contract.body("TokenCreate", read_json(request)), who)

    @routes.route("/api/v1/tokens/<name>", methods=["DELETE"])
    @endpoint
    async def revoke_token(self, request: Any, who: str, name: str) -> tuple[int, Any]:
        await self.remove_token(credential_of(request), name)
        return 204, None

    # What the API and the UI's pages (pserv.region.ui.admin) both do, from checked bodies.

    async def add_user(self, body: dict[str, Any], who: str) -> dict[str, Any]:
        """Create a user from a checked ``UserCreate`` body, its password hashed off the reactor."""
        password_hash = await self._hash(body["password"])
        return await self.database.run(users.create_user, body["name"], password_hash, Role(body["role"]),
                                       self.now(), by=who)

    async def change_user(self, name: str, body: dict[str, Any], who: str) -> dict[str, Any]:
        """Change the user ``name`` by a checked ``UserUpdate`` body."""
        changes = dict(body)
        if "password" in changes:
            changes["password_hash"] = await self._hash(changes.pop("password"))
        return await self.database.run(users.change_user, name, changes, self.now(), by=who)

    async def add_token(self, body: dict[str, Any], who: str) -> dict[str, Any]:
        """Issue a token from a checked ``TokenCreate`` body: the answer holds the token, this once."""
        return await self.database.run(tokens.issue_token, body["name"], Role(body["role"]), self.now(), by=who)

    async def remove_token(self, credential: Credential, name: str) -> None:
        """
        ``credential`` revokes the token ``name``.

        :raises Conflict: if it is the token ``credential`` is.
        """
        if credential.kind == "token" and credential.name == name:
            raise Conflict("name: this is the token the request bears; revoke it with another credential", "name")
        await self.database.run(tokens.revoke_token, name, self.now(), by=credential.name)

