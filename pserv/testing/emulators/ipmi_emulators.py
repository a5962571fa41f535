"""
Real IPMI BMC emulators on loopback, started and stopped from the reactor.

* :class:`PyghmiBMCs`: one child process running several IPMI 2.0 BMCs on
  pyghmi's BMC server (see :mod:`pserv.testing.emulators.ipmi_bmc_server`).
* :class:`IpmiSim`: Debian's OpenIPMI ``ipmi_sim``, a full BMC simulator,
  here speaking IPMI 1.5 LAN; its chassis power is a file written by a tiny
  ``chassis_control`` shell script.

Everything waits on real I/O from the child (a line, a prompt, its exit),
never on the wall clock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, DeferredLock, DeferredQueue
from twisted.internet.protocol import ProcessProtocol

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT = 20.0
IPMI_SIM = shutil.which("ipmi_sim") or "/usr/bin/ipmi_sim"

CHASSIS_SCRIPT = """#!/bin/sh
# ipmi_sim chassis_control: DEVICE get PARM... | DEVICE set PARM VALUE...
# Each set is logged to "controls" (PARM VALUE) before it takes effect;
# the boot device set is kept in "boot", and answered to a get.
state="$(dirname "$0")/power"
boot="$(dirname "$0")/boot"
log="$(dirname "$0")/controls"
shift
op=$1
shift
power() { cat "$state" 2>/dev/null || echo 0; }
case $op in
  get)
    for parm in "$@"; do
      case $parm in
        power) echo "power:$(power)" ;;
        boot) echo "boot:$(cat "$boot" 2>/dev/null || echo default)" ;;
        *) echo "Invalid parameter: $parm"; exit 1 ;;
      esac
    done ;;
  set)
    while [ $# -ge 2 ]; do
      echo "$1 $2" >> "$log"
      case $1 in
        power) echo "$2" > "$state" ;;
        shutdown) echo 0 > "$state" ;;
        boot) echo "$2" > "$boot" ;;
        reset|identify) ;;
        *) echo "Invalid parameter: $1"; exit 1 ;;
      esac
      shift 2
    done ;;
  *) echo "Unknown operation: $op"; exit 1 ;;
esac
"""

EMU_COMMANDS = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
"""


class ChildProtocol(ProcessProtocol):
    """
    A child's output as lines (and raw text), and its end as a Deferred.
    """

    def __init__(self) -> None:
        self.lines: DeferredQueue[str] = DeferredQueue()
        self.text = ""
        self.ended: Deferred[None] = Deferred()
        self.stderr = b""
        self._partial = ""
        self._watchers: list[tuple[str, Deferred[None]]] = []

    def outReceived(self, data: bytes) -> None:
        chunk = data.decode("utf-8", "replace")
        self.text += chunk
        self._partial += chunk
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self.lines.put(line.rstrip("\r"))
        self._notify()

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-4096:]

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)
        for _, waiter in self._watchers:
            waiter.errback(RuntimeError(f"child exited: {self.stderr[-500:]!r}"))
        self._watchers = []

    def seen(self, marker: str) -> Deferred[None]:
        """Fires once ``marker`` has appeared in the output."""
        waiter: Deferred[None] = Deferred()
        self._watchers.append((marker, waiter))
        self._notify()
        return waiter

    def _notify(self) -> None:
        ready = [(m, w) for m, w in self._watchers if m in self.text]
        self._watchers = [(m, w) for m, w in self._watchers if m not in self.text]
        for _, waiter in ready:
            waiter.callback(None)


class PyghmiBMCs:
    """
    A child process with ``count`` IPMI 2.0 BMCs sharing one user.
    """

    def __init__(self, reactor: Any, count: int, username: str, password: str) -> None:
        self._reactor = reactor
        self._args = ["--count", str(count), "--username", username, "--password", password]
        self._protocol = ChildProtocol()
        self._lock = DeferredLock()
        self.ports: list[int] = []

    async def start(self) -> list[int]:
        """Start the child; its BMCs' ports."""
        argv = [sys.executable, "-m", "pserv.testing.emulators.ipmi_bmc_server", *self._args]
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        self._reactor.spawnProcess(self._protocol, argv[0], argv, env=env, path=str(REPO_ROOT))
        first = self._protocol.lines.get()
        first.addTimeout(STARTUP_TIMEOUT, self._reactor)
        self.ports = json.loads(await first)["ports"]
        return self.ports

    async def command(self, line: str) -> dict[str, Any]:
        """Send one control command; the child's JSON answer."""
        await self._lock.acquire()
        try:
            self._protocol.transport.write(line.encode() + b"\n")
            reply = json.loads(await self._protocol.lines.get())
        finally:
            self._lock.release()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    async def stats(self, port: int) -> dict[str, Any]:
        """One BMC's power and counters."""
        return await self.command(f"stats {port}")

    async def set(self, port: int, name: str, value: Any) -> None:
        """Change one BMC's state or behaviour."""
        await self.command(f"set {port} {name} {json.dumps(value)}")

    async def stop(self) -> None:
        """Close the child's input, which ends it, and wait for its exit."""
        if self._protocol.ended.called:
            return
        self._protocol.transport.closeStdin()
        await self._protocol.ended


class IpmiSim:
    """
    One OpenIPMI ``ipmi_sim`` BMC on a free UDP port on 127.0.0.1.

    :param power_control: write a ``chassis_control`` script; without it
        the BMC refuses power commands (completion code 0xCC).
    """

    def __init__(
        self,
        reactor: Any,
        directory: Path,
        username: str,
        password: str,
        power_control: bool = True,
    ) -> None:
        self._reactor = reactor
        self.directory = directory
        self._username = username
        self._password = password
        self._power_control = power_control
        self._protocol = ChildProtocol()
        self.port = 0
        self.paused = False

    async def start(self) -> int:
        """Write the configuration, start ``ipmi_sim``, wait for its prompt."""
        self.port = free_udp_port()
        self._write_files()
        argv = ["ipmi_sim", "-c", "lan.conf", "-f", "sim.emu", "-s", "state"]
        self._reactor.spawnProcess(
            self._protocol,
            IPMI_SIM,
            argv,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            path=str(self.directory),
        )
        prompt = self._protocol.seen("> ")
        prompt.addTimeout(STARTUP_TIMEOUT, self._reactor)
        await prompt
        return self.port

    @property
    def sessions_opened(self) -> int:
        """Sessions the simulator activated, from its console log."""
        return self._protocol.text.count("Activate session: Session opened")

    @property
    def sessions_closed(self) -> int:
        """Sessions closed on request, from its console log."""
        return self._protocol.text.count("Session closed")

    @property
    def activations_failed(self) -> int:
        """Activate Session requests the simulator rejected."""
        return self._protocol.text.count("Activate session failed")

    @property
    def power(self) -> str:
        """The chassis power the script last wrote: ``on`` or ``off``."""
        path = self.directory / "power"
        on = path.exists() and path.read_text().strip() == "1"
        return "on" if on else "off"

    @property
    def boot(self) -> str:
        """
        The boot device ipmi_sim last passed the script (``pxe``,
        ``default`` for disk, ``cdrom``, ``bios``); ``default`` until one is
        set.  ipmi_sim answers Get System Boot Options with that device but
        neither the valid nor the persistent flag, so a driver cannot read
        it back as set: this is how a test reads it.
        """
        path = self.directory / "boot"
        return path.read_text().strip() if path.exists() else "default"

    @property
    def controls(self) -> list[str]:
        """
        Every chassis control the BMC carried out, oldest first, as the
        script logged it: ``"power 1"``, ``"power 0"``, ``"shutdown 1"``...
        """
        path = self.directory / "controls"
        return path.read_text().splitlines() if path.exists() else []

    def set_power(self, state: str) -> None:
        """Set the chassis power behind the BMC's back."""
        (self.directory / "power").write_text("1\n" if state == "on" else "0\n")

    def pause(self) -> None:
        """Freeze the simulator (SIGSTOP): it receives but never answers."""
        self._protocol.transport.signalProcess(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """Let a paused simulator go on; it answers what it queued."""
        self._protocol.transport.signalProcess(signal.SIGCONT)
        self.paused = False

    async def stop(self) -> None:
        """Ask the console to quit and wait for the exit."""
        if self._protocol.ended.called:
            return
        if self.paused:
            self.resume()
        self._protocol.transport.write(b"quit\n")
        await self._protocol.ended

    def _write_files(self) -> None:
        (self.directory / "state").mkdir(parents=True, exist_ok=True)
        (self.directory / "sim.emu").write_text(EMU_COMMANDS)
        (self.directory / "lan.conf").write_text(self._lan_conf())
        script = self.directory / "chassis.sh"
        script.write_text(CHASSIS_SCRIPT)
        script.chmod(0o755)

    def _lan_conf(self) -> str:
        auths = "none md2 md5 straight"
        lines = [
            'name "pserv-sim"',
            "set_working_mc 0x20",
            "startlan 1",
            f"  addr 127.0.0.1 {self.port}",
            "  priv_limit admin",
            *(
                f"  allowed_auths_{level} {auths}"
                for level in ("callback", "user", "operator", "admin")
            ),
            "  guid a1b2c3d4e5f60718293a4b5c6d7e8f90",
            "endlan",
            f'user 2 true "{self._username}" "{self._password}" admin 10 md5 straight',
        ]
        if self._power_control:
            lines.append(f'chassis_control "{self.directory / "chassis.sh"} 0x20"')
        return "\n".join(lines) + "\n"


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
