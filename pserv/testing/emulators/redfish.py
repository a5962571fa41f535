"""
Redfish BMCs for tests.

* :class:`SushyEmulator` runs sushy-tools' real Redfish emulator
  (``sushy-emulator``, as ``python -m sushy_tools.emulator.main``) as a subprocess on a free loopback port, with its fake
  systems driver, HTTP basic auth from a bcrypt htpasswd file and, if asked,
  TLS with a throwaway self-signed certificate.  The fake driver applies a
  power change 1-11 s after the reset is accepted, on the next read.
* :class:`StubBMC` is a tiny in-process twisted.web Redfish service that
  answers scripted statuses, for what sushy-tools cannot do: busy replies,
  sessions, garbage, held requests.
* :func:`silent_server` accepts connections and never answers;
  :func:`garbage_server` answers with something that is not HTTP;
  :func:`closed_port` is a port nothing listens on.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import protocol
from twisted.internet.defer import Deferred, succeed
from twisted.web import resource, server
from zope.interface import directlyProvides, providedBy

USERNAME = "admin"
PASSWORD = "pa55-Secret-word"

OFF_SYSTEM = "5a1f0000-0000-4000-8000-000000000001"
ON_SYSTEM = "5a1f0000-0000-4000-8000-000000000002"
SOFT_SYSTEM = "5a1f0000-0000-4000-8000-000000000003"
STILL_ON = "5a1f0000-0000-4000-8000-000000000004"
STILL_OFF = "5a1f0000-0000-4000-8000-000000000005"
"""The fake systems: off (to switch on), on (to switch off), on (to shut
down gracefully), and two no test changes."""

INITIAL_STATES = {OFF_SYSTEM: "Off", ON_SYSTEM: "On", SOFT_SYSTEM: "On", STILL_ON: "On", STILL_OFF: "Off"}

START_TIMEOUT = 30.0
"""Seconds the emulator may take to start listening."""


# -- sushy-tools --------------------------------------------------------------


@dataclass
class SushyEmulator:
    """
    One running ``sushy-emulator`` and what it printed.

    :ivar address: the driver's ``address`` setting for it (a URL).
    """

    workdir: Path
    tls: bool = False
    port: int = 0
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def params(self, **overrides: Any) -> dict[str, Any]:
        """A node's settings for this emulator, with ``overrides``."""
        params = {"address": self.address, "username": USERNAME, "password": PASSWORD}
        params.update(overrides)
        return params

    def start(self) -> None:
        """Start it and block until it listens (or fail with its output)."""
        for _ in range(3):
            self.port = free_port()
            self._ready.clear()
            self.output.clear()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sushy_tools.emulator.main", "--config", str(self._config())],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
            self._ready.wait(START_TIMEOUT)
            if self.process.poll() is None and self._listening():
                return
            self.stop()
        raise RuntimeError("sushy-emulator did not start:\n" + "".join(self.output[-30:]))

    def stop(self) -> None:
        """Stop it and wait for it to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def _listening(self) -> bool:
        return any("Running on" in line for line in self.output)

    def _drain(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)
            if "Running on" in line:
                self._ready.set()
        self._ready.set()

    def _config(self) -> Path:
        state = self.workdir / f"state-{self.port}"
        config = {
            "SUSHY_EMULATOR_LISTEN_IP": "127.0.0.1",
            "SUSHY_EMULATOR_LISTEN_PORT": self.port,
            "SUSHY_EMULATOR_FAKE_DRIVER": True,
            "SUSHY_EMULATOR_STATE_DIR": str(state),
            "SUSHY_EMULATOR_AUTH_FILE": str(write_htpasswd(self.workdir / "htpasswd")),
            "SUSHY_EMULATOR_FAKE_SYSTEMS": [
                {"uuid": uuid, "name": f"node-{i}", "power_state": power, "nics": []}
                for i, (uuid, power) in enumerate(INITIAL_STATES.items())
            ],
        }
        if self.tls:
            cert, key = write_certificate(self.workdir)
            config.update(SUSHY_EMULATOR_SSL_CERT=str(cert), SUSHY_EMULATOR_SSL_KEY=str(key))
        path = self.workdir / f"emulator-{self.port}.conf"
        path.write_text("".join(f"{k} = {v!r}\n" for k, v in config.items()))
        return path


def write_htpasswd(path: Path) -> Path:
    """An htpasswd file for USERNAME; sushy-tools accepts only bcrypt."""
    digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"{USERNAME}:{digest}\n")
    return path


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pserv test BMC")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "bmc.crt", directory / "bmc.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_path, key_path


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    return free_port()


def _emulator(tmp_path_factory: pytest.TempPathFactory, tls: bool):
    emulator = SushyEmulator(tmp_path_factory.mktemp("sushy-tls" if tls else "sushy"), tls=tls)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def sushy(tmp_path_factory: pytest.TempPathFactory):
    """sushy-tools over plain HTTP with basic auth, once per test module."""
    yield from _emulator(tmp_path_factory, tls=False)


@pytest.fixture(scope="module")
def sushy_tls(tmp_path_factory: pytest.TempPathFactory):
    """sushy-tools over HTTPS with a self-signed certificate and basic auth."""
    yield from _emulator(tmp_path_factory, tls=True)


# -- a scripted stub ----------------------------------------------------------


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

    def release(self) -> None:
        """Answer every held request."""
        held, self.held = self.held, []
        for request, answer in held:
            self._finish(request, answer)

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


@dataclass
class Listening:
    """A server listening on loopback: its port, address and factory."""

    port: Any
    factory: Any = None
    stub: StubBMC | None = None

    @property
    def number(self) -> int:
        return self.port.getHost().port

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.number}"


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


# -- a reactor that shows its timers --------------------------------------------


class ClockSpy:
    """The real reactor, recording every timer set through it, to prove none is left armed."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.timers: list[Any] = []
        directlyProvides(self, providedBy(real))

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        call = self._real.callLater(*args, **kwargs)
        self.timers.append(call)
        return call

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


# -- servers that misbehave ---------------------------------------------------


class _Silent(protocol.Protocol):
    def connectionMade(self) -> None:
        self.factory.connections.append(self)
        self.lost: Deferred[None] = Deferred()
        if not self.factory.connected.called:
            self.factory.connected.callback(self)

    def dataReceived(self, data: bytes) -> None:
        if not self.factory.requested.called:
            self.factory.requested.callback(self)

    def connectionLost(self, reason: Any = None) -> None:
        self.lost.callback(None)


class SilentFactory(protocol.Factory):
    """Accepts connections, reads requests and never answers."""

    protocol = _Silent

    def __init__(self) -> None:
        self.connections: list[_Silent] = []
        self.connected: Deferred[_Silent] = Deferred()
        self.requested: Deferred[_Silent] = Deferred()


class _Garbage(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(b"SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\r\n")
        self.transport.loseConnection()


@pytest_twisted.async_yield_fixture
async def silent_server():
    """A loopback server that never replies; its factory sees each connection."""
    from twisted.internet import reactor

    factory = SilentFactory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    yield Listening(port, factory)
    await port.stopListening()
    for connection in factory.connections:
        connection.transport.abortConnection()


@pytest_twisted.async_yield_fixture
async def garbage_server():
    """A loopback server that answers any request with non-HTTP bytes."""
    from twisted.internet import reactor

    factory = protocol.Factory.forProtocol(_Garbage)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    yield Listening(port, factory)
    await port.stopListening()
