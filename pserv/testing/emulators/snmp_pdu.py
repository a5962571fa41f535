"""
A real SNMP agent playing a switched PDU on loopback, for tests.

:class:`SNMPPDUEmulator` runs net-snmp's ``snmpd`` on a free UDP port of
127.0.0.1 with :mod:`pserv.testing.emulators.snmp_pdu_agent` as its ``pass_persist``
handler for the vendor outlet MIBs and ``sysObjectID``.  It accepts SNMPv1
and v2c with distinct read and write communities, and SNMPv3 authPriv
(SHA + AES) for one user.  The test reads and changes the agent's state
(outlets, ``sysObjectID``, forced values, delays, the SET log) through the
methods here, which share the handler's state file and lock.

Needs the Debian packages ``snmpd`` (the agent) and ``snmp`` (``snmpget``,
used only to wait until the agent answers).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from pserv.testing.emulators import snmp_pdu_agent

HANDLER = Path(snmp_pdu_agent.__file__).resolve()

READ_COMMUNITY = "r3ad-Comm-5ecret"
WRITE_COMMUNITY = "wr1te-Comm-5ecret"
V3_USER = "pduadmin"
V3_AUTH_KEY = "auth-Key-5ecret-1"
V3_PRIV_KEY = "priv-Key-5ecret-2"
SECRETS = (READ_COMMUNITY, WRITE_COMMUNITY, V3_AUTH_KEY, V3_PRIV_KEY)
"""Every secret the agent knows, to check that no message leaks one."""

DEFAULT_SYS_OBJECT_ID = ".1.3.6.1.4.1.318.1.3.4.5"
"""What the agent reports until told otherwise: an APC rack PDU."""


def missing_tools() -> list[str]:
    """The programs this emulator needs that are not installed."""
    return [t for t in ("snmpd", "snmpget") if not _which(t)]


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin")


def _die_with_parent() -> None:
    """In the child: have Linux stop snmpd if the test process dies first."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 nobody was bound to a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_emulator(directory: Path) -> Iterator[SNMPPDUEmulator]:
    """An emulator started in ``directory``, stopped on the way out."""
    emulator = SNMPPDUEmulator(directory)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


class SNMPPDUEmulator:
    """
    snmpd on 127.0.0.1 playing every vendor's outlet MIB, 8 outlets each.

    :param directory: where the configuration, state and log go.
    """

    address = "127.0.0.1"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state_path = directory / "state.json"
        self.log_path = directory / "snmpd.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, attempts: int = 3) -> None:
        """
        Start snmpd and return once it answers a GET.

        :raises RuntimeError: with snmpd's log, if it never answers.
        """
        self.reset()
        for _ in range(attempts):
            self.port = free_udp_port()
            self._spawn()
            if self._wait_until_answering():
                return
            self.stop()
        raise RuntimeError("snmpd did not start:\n" + self.log_tail())

    def stop(self) -> None:
        """Stop snmpd (and so its handlers) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 30) -> str:
        """The end of snmpd's log, for failure messages."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _spawn(self) -> None:
        persistent = self.directory / "persistent"
        persistent.mkdir(exist_ok=True)
        config = self.directory / "snmpd.conf"
        config.write_text(self._config())
        env = dict(os.environ, SNMP_PERSISTENT_DIR=str(persistent), MIBS="", MIBDIRS="/nonexistent")
        self._process = subprocess.Popen(
            [
                _which("snmpd") or "snmpd",
                "-f",
                "-C",
                "-c", str(config),
                "-I", "-smux",
                "-Lf", str(self.log_path),
                "-p", str(self.directory / "snmpd.pid"),
                f"udp:{self.address}:{self.port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,
        )

    def _config(self) -> str:
        handler = f"{sys.executable} {HANDLER} {self.state_path}"
        return "\n".join(
            [
                f"rocommunity {READ_COMMUNITY} 127.0.0.1",
                f"rwcommunity {WRITE_COMMUNITY} 127.0.0.1",
                f'createUser {V3_USER} SHA "{V3_AUTH_KEY}" AES "{V3_PRIV_KEY}"',
                f"rwuser {V3_USER} priv",
                "sysDescr pserv test PDU",
                f"pass_persist .1.3.6.1.4.1 {handler}",
                f"pass_persist -p 1 .1.3.6.1.2.1.1.2 {handler}",
                "",
            ]
        )

    def _wait_until_answering(self, tries: int = 50) -> bool:
        """Ask for sysObjectID until snmpd answers; each try waits 0.2 s."""
        command = [
            _which("snmpget") or "snmpget",
            "-v2c", "-c", READ_COMMUNITY, "-t", "0.2", "-r", "0", "-On",
            f"{self.address}:{self.port}", ".1.3.6.1.2.1.1.2.0",
        ]
        for _ in range(tries):
            if self._process is None or self._process.poll() is not None:
                return False
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode == 0 and "OID" in done.stdout:
                return True
        return False

    # The agent's state, shared with the handler processes.

    def reset(self) -> None:
        """All outlets on, the default sysObjectID, no overrides, empty log."""
        self._write(
            {
                "sys_object_id": DEFAULT_SYS_OBJECT_ID,
                "outlets": {},
                "forced": {},
                "delays": {},
                "set_delay": 0,
                "sets": [],
            }
        )

    def outlet(self, model: str, outlet: int) -> str:
        """``"on"`` or ``"off"``: what the emulated outlet really is."""
        return str(self._read()["outlets"].get(f"{model}:{outlet}", "on"))

    def set_outlet(self, model: str, outlet: int, state: str) -> None:
        """Switch an emulated outlet behind the driver's back."""
        self._update(lambda s: s["outlets"].__setitem__(f"{model}:{outlet}", state))

    def set_sys_object_id(self, oid: str) -> None:
        """What ``sysObjectID.0`` reports from now on."""
        self._update(lambda s: s.__setitem__("sys_object_id", oid))

    def force(self, oid: str, value: int) -> None:
        """Make a GET of ``oid`` (dotted, leading dot) return ``value``."""
        self._update(lambda s: s["forced"].__setitem__(oid, value))

    def delay(self, oid: str, seconds: float) -> None:
        """Hold the answer to any request for ``oid`` for ``seconds``."""
        self._update(lambda s: s["delays"].__setitem__(oid, seconds))

    def set_delay(self, seconds: float) -> None:
        """Hold the answer to every SET for ``seconds``, like a slow relay."""
        self._update(lambda s: s.__setitem__("set_delay", seconds))

    def sets(self) -> list[list[Any]]:
        """The SET log: ``[oid, "type value", result, start, end]`` each."""
        return list(self._read()["sets"])

    def _read(self) -> dict[str, Any]:
        with snmp_pdu_agent.locked_state(str(self.state_path), write=False) as state:
            return state

    def _update(self, change: Any) -> None:
        with snmp_pdu_agent.locked_state(str(self.state_path), write=True) as state:
            change(state)

    def _write(self, state: dict[str, Any]) -> None:
        with open(str(self.state_path) + ".lock", "a"):
            pass
        if not self.state_path.exists():
            self.state_path.write_text(json.dumps(state))
        else:
            self._update(lambda s: (s.clear(), s.update(state)))
