"""
sushy-tools' Redfish emulator, for tests.

:class:`SushyEmulator` runs sushy-tools' real Redfish emulator
(``sushy-emulator``, through :mod:`pserv.testing.emulators.sushy_main`) as
a subprocess on a free loopback port, with its fake systems driver, HTTP
basic auth from a bcrypt htpasswd file and, if asked, TLS with a throwaway
self-signed certificate.  The fake driver applies a power change 1-11 s
after the reset is accepted, on the next read (at once with ``instant``),
and every reset it accepts is in :attr:`SushyEmulator.resets`.  The
fixtures ``sushy`` and ``sushy_tls`` run one per test module.

For what sushy-tools cannot do (busy replies, sessions, garbage, held
requests) see :mod:`pserv.testing.emulators.redfish_stub`; for servers that
never answer or speak something else, :mod:`pserv.testing.emulators.loopback`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pserv.testing.emulators.ipmi_emulators import REPO_ROOT
from pserv.testing.emulators.loopback import free_port

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


@dataclass
class SushyEmulator:
    """
    One running ``sushy-emulator`` and what it printed.

    :ivar address: the driver's ``address`` setting for it (a URL).
    """

    workdir: Path
    tls: bool = False
    instant: bool = False
    port: int = 0
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def resets(self) -> list[tuple[str, str]]:
        """Every reset accepted, oldest first: ``(system, ResetType)``."""
        path = self.workdir / "resets"
        return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines()] if path.exists() else []

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
            hooks = ["--reset-log", str(self.workdir / "resets"), *(["--instant"] if self.instant else [])]
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pserv.testing.emulators.sushy_main", *hooks, "--config", str(self._config())],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT)},
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
