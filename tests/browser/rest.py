"""
The region's REST API for the browser tests, with a bearer token: setting
things up (users, tokens, nodes a test owns, power to settle the demo's
nodes first) and checking what a page did behind the browser's back.
Plain urllib: the tests are synchronous.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from tests.demo.process import User

OUTSTANDING = ("pending", "sent", "running", "timed_out")
"""The statuses of an action that may still change."""

POLL = 0.1
"""Seconds between two reads while waiting for actions to end or a node to go."""

WAIT = 30.0
"""Seconds the demo's actions may take to end (a node to go) before a test fails."""


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

    def action(self, action: int) -> dict[str, Any]:
        """The power action ``action``."""
        return self.get(f"/api/v1/actions/{action}")

    def power(self, action: str, nodes: list[str]) -> list[dict[str, Any]]:
        """Ask for ``action`` on ``nodes`` in one bulk request; its actions."""
        answer = self.call("POST", "/api/v1/power", {"action": action, "nodes": nodes})
        assert answer.status == 202, answer
        return answer.body["actions"]

    def wait_for_actions(self, actions: list[dict[str, Any]], timeout: float = WAIT) -> list[dict[str, Any]]:
        """
        ``actions`` once every one of them has ended (read again every
        :data:`POLL` s), in their order.

        :raises AssertionError: if some are still outstanding after ``timeout`` s.
        """
        ids = ",".join(str(action["id"]) for action in actions)
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(f"/api/v1/actions?ids={ids}")["items"]
            if all(action["status"] not in OUTSTANDING for action in found):
                return found
            assert time.monotonic() < deadline, f"actions still outstanding after {timeout} s: {found}"
            time.sleep(POLL)

    def add_node(self, name: str, power_type: str, parameters: dict[str, Any],
                 cluster: str = "demo-cluster") -> dict[str, Any]:
        """A new node ``name`` on ``cluster``."""
        body = {"name": name, "cluster": cluster, "power_type": power_type, "power_parameters": parameters}
        answer = self.call("POST", "/api/v1/nodes", body)
        assert answer.status == 201, answer
        return answer.body

    def remove_node(self, name: str, timeout: float = WAIT) -> None:
        """
        Cancel what is outstanding for the node ``name``, delete it and wait
        until it is gone (a node with an action in flight goes once it stops);
        nothing if there is no such node.
        """
        if self.call("GET", f"/api/v1/nodes/{name}").status == 404:
            return
        for action in self.actions(name):
            if action["status"] in OUTSTANDING and not action["cancel_requested"]:
                self.call("POST", f"/api/v1/actions/{action['id']}/cancel")
        answer = self.call("DELETE", f"/api/v1/nodes/{name}")
        assert answer.status in (202, 204), answer
        deadline = time.monotonic() + timeout
        while self.call("GET", f"/api/v1/nodes/{name}").status != 404:
            assert time.monotonic() < deadline, f"node {name} still there {timeout} s after its deletion"
            time.sleep(POLL)

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
