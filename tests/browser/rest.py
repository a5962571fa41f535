"""
The region's REST API for the browser tests, with a bearer token: setting
things up (users, tokens) and checking what a page did behind the
browser's back.  Plain urllib: the tests are synchronous.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from tests.demo.process import User


@dataclass(frozen=True)
class Answer:
    """An API answer: its status, its JSON body (``None`` if empty) and its headers."""

    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """
    The region's REST API, with a bearer token; every answer is returned,
    refusals too (nothing raises for a status).
    """

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        """``METHOD path`` with ``body`` as JSON, as ``token`` (this API's token by default)."""
        sent = {"authorization": f"Bearer {token or self.token}", "accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["content-type"] = "application/json"
        request = Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urlopen(request, timeout=30) as response:
                return _answer(response.status, response.read(), response.headers)
        except HTTPError as e:
            with e:
                return _answer(e.code, e.read(), e.headers)

    def get(self, path: str, **options: Any) -> Any:
        """The body of ``GET path``, which must answer 200."""
        answer = self.call("GET", path, **options)
        assert answer.status == 200, (path, answer)
        return answer.body

    def node(self, name: str) -> dict[str, Any]:
        """The node called (or numbered) ``name``."""
        return self.get(f"/api/v1/nodes/{name}")

    def actions(self, node: str) -> list[dict[str, Any]]:
        """The first page of ``node``'s power actions, as the API lists them."""
        return self.get(f"/api/v1/nodes/{node}/actions")["items"]

    def add_user(self, role: str, name: str | None = None) -> User:
        """A new enabled user of the UI with ``role`` (and a new name unless ``name``)."""
        user = User(name or f"{role}-{secrets.token_hex(3)}", secrets.token_urlsafe(12), role)
        answer = self.call("POST", "/api/v1/users", {"name": user.name, "password": user.password, "role": role})
        assert answer.status == 201, answer
        return user

    def add_token(self, role: str, name: str | None = None) -> str:
        """A new bearer token with ``role``."""
        body = {"name": name or f"{role}-{secrets.token_hex(3)}", "role": role}
        answer = self.call("POST", "/api/v1/tokens", body)
        assert answer.status == 201, answer
        return answer.body["token"]


def _answer(status: int, raw: bytes, headers: Any) -> Answer:
    shown = {name.lower(): value for name, value in headers.items()}
    body = json.loads(raw) if raw and shown.get("content-type", "").startswith("application/json") else None
    return Answer(status, body, shown)
