"""
A stub of the region's REST API for the client's tests, held to the
contract: every canned answer is validated, when it is set, against the
schema ``pserv.region.openapi.document()`` gives for that path, method and
status (Draft 2020-12), and every request's query and body are checked
against the operation's parameters and request schema. What does not
conform is a ``ContractError`` at once, or a recorded violation that the
fixtures fail the test on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from twisted.web.resource import Resource as WebResource
from twisted.web.server import NOT_DONE_YET

from pserv.power.states import FINAL, ActionKind, ActionStatus, PowerState
from pserv.power.types import POWER_TYPES
from pserv.region.openapi import document
from pserv.region.validation import INTEGER, takes_integer

TOKEN = "tok-3f9a.SECRET"
DOC = document()
BASE = "urn:pserv:openapi"
REGISTRY = Registry().with_resource(BASE, Resource.from_contents(DOC, default_specification=DRAFT202012))
STAMP = "2025-01-02T03:04:05Z"


class ContractError(AssertionError):
    """A canned answer or a request that the OpenAPI document does not allow."""


def validator(*pointer: str) -> Draft202012Validator:
    """A Draft 2020-12 validator for the schema at ``pointer`` in the document."""
    escaped = "/".join(p.replace("~", "~0").replace("/", "~1") for p in pointer)
    return Draft202012Validator({"$ref": f"{BASE}#/{escaped}"}, registry=REGISTRY)


def check(instance: Any, *pointer: str) -> None:
    """Raise ContractError unless ``instance`` fits the schema at ``pointer``."""
    errors = [e.message for e in validator(*pointer).iter_errors(instance)]
    if errors:
        raise ContractError(f"{'/'.join(pointer)}: {errors[0]}")


def template_for(path: str) -> str:
    """The document's path template that ``path`` (no query) matches."""
    for template in DOC["paths"]:
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
            return template
    raise ContractError(f"no such path in the contract: {path}")


def check_answer(method: str, path: str, status: int, body: Any) -> None:
    """Raise ContractError unless the contract allows this answer (a :class:`Streamed` one: an event stream)."""
    template = template_for(path)
    responses = DOC["paths"][template].get(method.lower(), {}).get("responses", {})
    if str(status) not in responses:
        raise ContractError(f"{method} {template} has no {status} answer")
    content = responses[str(status)].get("content", {})
    if isinstance(body, Streamed):
        if EVENT_STREAM not in content:
            raise ContractError(f"{method} {template} {status} is not an event stream")
        for sent in body.events:
            check(sent, "components", "schemas", "Event")
    elif "application/json" in content:
        check(body, "paths", template, method.lower(), "responses", str(status),
              "content", "application/json", "schema")
    elif body is not None:
        raise ContractError(f"{method} {template} {status} has no body")


@dataclass
class Seen:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None
    last_event_id: str | None = None


EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Streamed:
    """A queued answer that is an event stream, held open, with ``events`` sent at once (:meth:`StubRegion.on_stream`)."""

    events: tuple[dict[str, Any], ...] = ()


class OpenStream:
    """
    An event stream the stub holds open: the test sends events and
    comments on it, and ends or drops it.
    """

    def __init__(self, request: Any) -> None:
        self.request = request
        self.gone = False
        request.notifyFinish().addBoth(self._gone)
        request.setHeader("content-type", EVENT_STREAM)
        request.write(b"retry: 2000\n\n")

    def _gone(self, result: Any) -> None:
        self.gone = True

    def send(self, *events: dict[str, Any]) -> None:
        """Send ``events`` (Event bodies, checked against the contract) as the region does."""
        for sent in events:
            check(sent, "components", "schemas", "Event")
            data = json.dumps(sent, separators=(",", ":"))
            self.request.write(f"id: {sent['id']}\nevent: event\ndata: {data}\n\n".encode())

    def write(self, raw: bytes) -> None:
        """Send ``raw`` bytes as they are."""
        self.request.write(raw)

    def end(self) -> None:
        """End the answer cleanly, as a region that stops does."""
        self.request.finish()

    def drop(self) -> None:
        """Drop the connection mid-answer."""
        self.request.loseConnection()


DEFAULTS: dict[tuple[str, str], list[tuple[int, Any]]] = {
    ("GET", "/api/v1/drivers"): [(200, POWER_TYPES.describe())],
}
"""What the stub answers when no answer is queued: the production drivers."""


class StubRegion(WebResource):
    """
    Canned answers by method and path, in order (the last one repeats), and
    a record of the requests. Without a good bearer token: 401.  A request
    the contract refuses is a violation, unless the answer queued for it
    is the 400 the region would give.
    """

    isLeaf = True

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.streams: list[OpenStream] = []

    def on(self, method: str, path: str, status: int, body: Any = None) -> "StubRegion":
        """Queue an answer, after checking it against the contract."""
        check_answer(method, path, status, body)
        self.answers.setdefault((method, path), []).append((status, body))
        return self

    def on_stream(self, path: str, *events: dict[str, Any]) -> "StubRegion":
        """
        Queue an event stream for ``GET path`` that sends ``events`` at
        once, then is held open in :attr:`streams` for the test.
        """
        return self.on("GET", path, 200, Streamed(events))

    def render(self, request: Any) -> bytes:
        seen = _record(request)
        self.requests.append(seen)
        if seen.authorization != f"Bearer {self.token}":
            return _reply(request, 401, {"error": "no valid bearer token"})
        queue = self.answers.get((seen.method, seen.path)) or DEFAULTS.get((seen.method, seen.path))
        try:
            _check_request(seen)
        except ContractError as e:
            if not (queue and queue[0][0] == 400):
                self.violations.append(str(e))
                return _reply(request, 400, {"error": str(e)})
        if not queue:
            self.violations.append(f"no answer for {seen.method} {seen.path}")
            return _reply(request, 500, {"error": "not stubbed"})
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(body, Streamed):
            self.streams.append(OpenStream(request))
            self.streams[-1].send(*body.events)
            return NOT_DONE_YET
        return _reply(request, status, body)

    def seen(self, method: str | None = None) -> list[Seen]:
        """The requests received, or only those of one method."""
        return [r for r in self.requests if method in (None, r.method)]


def _record(request: Any) -> Seen:
    raw = request.content.read()
    return Seen(
        method=request.method.decode(),
        path=request.path.decode(),
        query={k.decode(): v[-1].decode() for k, v in request.args.items()},
        body=json.loads(raw) if raw else None,
        authorization=(request.getHeader("authorization")),
        last_event_id=request.getHeader("last-event-id"),
    )


def _check_request(seen: Seen) -> None:
    template = template_for(seen.path)
    operation = DOC["paths"][template].get(seen.method.lower())
    if operation is None:
        raise ContractError(f"{seen.method} {template} is not in the contract")
    declared = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
    for name, value in seen.query.items():
        if name not in declared:
            raise ContractError(f"{seen.method} {template}: no query parameter {name!r}")
        errors = list(Draft202012Validator(declared[name]).iter_errors(_typed(declared[name], value)))
        if errors:
            raise ContractError(f"{seen.method} {template}: {name}: {errors[0].message}")
    if "requestBody" in operation:
        check(seen.body, "paths", template, seen.method.lower(), "requestBody",
              "content", "application/json", "schema")
    elif seen.body is not None:
        raise ContractError(f"{seen.method} {template} takes no body")


def _typed(schema: dict[str, Any], value: str) -> Any:
    """A query argument as its schema reads it: digits as an integer, an array's items split at commas."""
    if schema.get("type") == "array":
        return [_typed(schema["items"], item) for item in value.split(",")]
    return int(value) if INTEGER.fullmatch(value) and takes_integer(schema) else value


def _reply(request: Any, status: int, body: Any) -> bytes:
    request.setResponseCode(status)
    if body is None:
        return b""
    request.setHeader("content-type", "application/json")
    return json.dumps(body).encode()


# -- bodies that conform ---------------------------------------------------------


def node(id: int = 1, name: str = "n1", **changes: Any) -> dict[str, Any]:
    """A Node as the region shows it; secrets show as "set"."""
    return {
        "id": id, "name": name, "group": None, "cluster": "rack-1", "moving_from": None, "power_type": "ipmi",
        "power_parameters": {"address": "10.0.0.1", "password": "set"},
        "desired_power_state": PowerState.ON.value, "power_state": PowerState.ON.value,
        "power_state_observed_at": STAMP, "power_error": None, "generation": 3, "version": 1,
        "lifecycle": "ready", "drift_policy": "observe", "locked": False, "locked_by": None, "lock_reason": None,
        "locked_at": None, "created_at": STAMP, "updated_at": STAMP, **changes,
    }


def action(id: int = 10, node: int = 1, status: str = ActionStatus.PENDING.value, **changes: Any) -> dict[str, Any]:
    """An Action."""
    final = status in FINAL
    return {
        "id": id, "node": node, "kind": ActionKind.ON.value, "status": status, "generation": 4,
        "requested_by": "ops", "requested_at": STAMP, "started_at": None,
        "finished_at": STAMP if final else None,
        "error": "BMC timed out" if status == ActionStatus.FAILED else None,
        "superseded_by": None, "power_state": PowerState.ON.value if status == ActionStatus.DONE else None,
        "cancel_requested": False, "escalate_after": None, "reason": None, "boot_device": None,
        "boot_persistent": False, "not_before": None, **changes,
    }


def event(id: int, message: str = "power on requested", **changes: Any) -> dict[str, Any]:
    """An Event."""
    return {
        "id": id, "at": STAMP, "node": 1, "node_name": "n1", "action": 10,
        "kind": "power.requested", "message": message, **changes,
    }


def page(items: list[Any], next: str | None = None) -> dict[str, Any]:
    """A page of a list."""
    return {"items": items, "next": next}
