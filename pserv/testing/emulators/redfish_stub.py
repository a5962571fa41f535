"""
A scripted Redfish BMC, for what sushy-tools cannot do.

:class:`StubBMC` is a tiny in-process twisted.web Redfish service that
answers scripted statuses: busy replies, sessions, garbage, held requests.
:func:`redfish_tree` scripts a service root, a Systems collection and its
systems from :func:`system_document`; the ``stub_bmc`` fixture serves a
fresh stub on a loopback port.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest_twisted
from twisted.internet.defer import Deferred, succeed
from twisted.web import resource, server

from pserv.testing.emulators.loopback import Listening

@dataclass
class Answer:
    """
    One scripted reply.  ``hold`` keeps the request open until released,
    after sending ``partial`` (headers and the start of a body) if given;
    ``delay`` answers that many seconds later.
    """

    code: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False
    partial: bytes = b""
    delay: float = 0.0


@dataclass
class Seen:
    """One request the stub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubBMC(resource.Resource):
    """
    A scripted Redfish service.  Each ``(method, path)`` answers from its
    list in turn, repeating the last; anything unscripted is a 404.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []
        self.held: list[tuple[Any, Answer]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._watchers: list[tuple[str, str, Deferred[None]]] = []
        self._none_held: list[Deferred[None]] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Answer ``method path`` with ``answers`` in turn."""
        self.script[(method, path)] = list(answers)

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests arrived."""
        return sum(1 for s in self.seen if (s.method, s.path) == (method, path))

    def when(self, method: str, path: str) -> Deferred[None]:
        """Fires once a ``method path`` request has arrived."""
        if self.count(method, path):
            return succeed(None)
        arrived: Deferred[None] = Deferred()
        self._watchers.append((method, path, arrived))
        return arrived

    def when_none_held(self) -> Deferred[None]:
        """Fires once no request is held, answered or dropped (at once if none is)."""
        if not self.held:
            return succeed(None)
        emptied: Deferred[None] = Deferred()
        self._none_held.append(emptied)
        return emptied

    def release(self) -> None:
        """Answer every held request."""
        held, self.held = self.held, []
        for request, answer in held:
            self._finish(request, answer)
        self._check_none_held()

    def render(self, request: server.Request) -> bytes | int:
        method, path = request.method.decode(), request.path.decode()
        headers = {k.decode().lower(): v[-1].decode() for k, v in request.requestHeaders.getAllRawHeaders()}
        self.seen.append(Seen(method, path, headers, request.content.read()))
        answers = self.script.get((method, path)) or [Answer(404, {"error": {"message": "no such resource"}})]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        result = self._start(request, answer)
        self._notify(method, path)
        return result

    def _start(self, request: server.Request, answer: Answer) -> bytes | int:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if answer.delay or answer.hold:
            request.notifyFinish().addErrback(lambda _: self._gone(request))
        if answer.delay:
            from twisted.internet import reactor

            reactor.callLater(answer.delay, self._finish, request, answer)
            return server.NOT_DONE_YET
        if answer.hold:
            self.held.append((request, answer))
            if answer.partial:
                request.setResponseCode(answer.code)
                request.write(answer.partial)
            return server.NOT_DONE_YET
        return self._reply(request, answer)

    def _notify(self, method: str, path: str) -> None:
        watchers, self._watchers = self._watchers, []
        for watched in watchers:
            if watched[:2] == (method, path):
                watched[2].callback(None)
            else:
                self._watchers.append(watched)

    def _gone(self, request: server.Request) -> None:
        self.in_flight -= 1
        self.held = [(r, a) for r, a in self.held if r is not request]
        request.stub_lost = True  # type: ignore[attr-defined]
        self._check_none_held()

    def _check_none_held(self) -> None:
        if not self.held:
            waiting, self._none_held = self._none_held, []
            for emptied in waiting:
                emptied.callback(None)

    def _finish(self, request: server.Request, answer: Answer) -> None:
        if getattr(request, "stub_lost", False):
            return
        request.write(self._reply(request, answer))
        request.finish()

    def _reply(self, request: server.Request, answer: Answer) -> bytes:
        self.in_flight -= 1
        request.setResponseCode(answer.code)
        for name, value in answer.headers.items():
            request.setHeader(name, value)
        if isinstance(answer.body, bytes):
            return answer.body
        if answer.body is None:
            return b""
        request.setHeader("Content-Type", "application/json")
        return json.dumps(answer.body).encode()


def redfish_tree(stub: StubBMC, *, systems: dict[str, str] | None = None,
                 allowed: list[str] | None = None, sessions: bool = False) -> None:
    """Script a service root, a Systems collection and each system."""
    systems = {"1": "On"} if systems is None else systems
    root: dict[str, Any] = {"Systems": {"@odata.id": "/redfish/v1/Systems"}}
    if sessions:
        root["Links"] = {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}
    stub.on("GET", "/redfish/v1/", Answer(200, root))
    members = [{"@odata.id": f"/redfish/v1/Systems/{sid}"} for sid in systems]
    stub.on("GET", "/redfish/v1/Systems", Answer(200, {"Members": members}))
    for sid, power in systems.items():
        stub.on("GET", f"/redfish/v1/Systems/{sid}", Answer(200, system_document(sid, power, allowed)))
        stub.on("POST", reset_path(sid), Answer(204))


def system_document(sid: str, power: str | None, allowed: list[str] | None = None) -> dict[str, Any]:
    """A ComputerSystem with a reset action and, if given, allowed values."""
    action: dict[str, Any] = {"target": reset_path(sid)}
    if allowed is not None:
        action["ResetType@Redfish.AllowableValues"] = allowed
    document: dict[str, Any] = {"@odata.id": f"/redfish/v1/Systems/{sid}", "Id": sid,
                                "Actions": {"#ComputerSystem.Reset": action}}
    if power is not None:
        document["PowerState"] = power
    return document


def reset_path(sid: str) -> str:
    """The reset action target of system ``sid``."""
    return f"/redfish/v1/Systems/{sid}/Actions/ComputerSystem.Reset"


class CountingSite(server.Site):
    """A Site that counts the TCP connections it accepted."""

    connections = 0

    def buildProtocol(self, addr: Any) -> Any:
        self.connections += 1
        return super().buildProtocol(addr)


@pytest_twisted.async_yield_fixture
async def stub_bmc():
    """A :class:`StubBMC` on a loopback port."""
    from twisted.internet import reactor

    stub = StubBMC()
    site = CountingSite(stub)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield Listening(port, site, stub)
    await port.stopListening()
