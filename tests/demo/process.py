"""
A real ``pserv demo`` process for tests (a region with SQLite, a cluster
over TLS, emulated IPMI BMCs and PDU, all on loopback), serving until
stopped: the system the browser tests drive.

It runs in its own process group: stopping it interrupts it (it stops its
parts in order) and then kills whatever of the group is left.  It is
ready when it says it is serving, with its URL, token and UI user read
from its lines; a thread reads them, so its pipe never fills.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

SERVING = "pserv demo: serving until interrupted"
REGION = re.compile(r"^pserv demo: region at (http://\S+) ")
TOKEN = re.compile(r"^pserv demo: token (\S+)$")
USER = re.compile(r"^pserv demo: UI user (\S+) password (\S+) ")
BMCS = re.compile(r"^pserv demo: \d+ emulated IPMI BMCs on 127\.0\.0\.1 ports \[([\d, ]*)\]$")
SPARE = re.compile(r"^pserv demo: \d+ spare emulated IPMI BMCs, not enrolled, on (127\.0\.0\.1) ports \[([\d, ]*)\], "
                   r"username (\S+) password (\S+) ")

START_TIMEOUT = 120.0
"""Seconds the demo may take to say it is serving before the run gives up (it takes a few)."""

STOP_TIMEOUT = 90.0
"""Seconds the interrupted demo may take to stop its parts before its group is killed: a
bound, not a figure (it stops in 2 to 3 s on a quiet machine; a loaded CI run once took
more than 30 s, waiting on an IPMI session's close), as START_TIMEOUT is."""


@dataclass(frozen=True)
class User:
    """A user of the UI, with the password to log in with."""

    name: str
    password: str
    role: str


@dataclass(frozen=True)
class Bmc:
    """An emulated IPMI BMC the demo started but did not enrol, and the emulators' user on it."""

    address: str
    port: int
    username: str
    password: str


@dataclass
class Demo:
    """
    One running ``pserv demo``.

    :ivar url: the region's base URL (``http://127.0.0.1:PORT``).
    :ivar token: an admin bearer token.
    :ivar admin: the admin user of the UI the demo made.
    :ivar bmc_ports: the emulated IPMI BMCs' UDP ports, one per node ``ipmi-N``.
    :ivar spare_bmcs: the emulated IPMI BMCs no node uses (``spare_bmcs`` of :func:`start_demo`).
    :ivar lines: everything the demo printed, for failure messages.
    """

    process: subprocess.Popen[str]
    data_dir: Path
    url: str = ""
    token: str = ""
    admin: User | None = None
    bmc_ports: list[int] = field(default_factory=list)
    spare_bmcs: list[Bmc] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        """What the demo printed so far."""
        return "\n".join(self.lines)

    def stop(self) -> int | None:
        """Interrupt the demo, wait for it to stop, kill what is left of its group; its exit status."""
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            status = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
        except ProcessLookupError:
            status = self.process.poll()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        return status


def start_demo(data_dir: Path, nodes: int = 4, spare_bmcs: int = 0) -> Demo:
    """
    Start ``pserv demo`` (no tour, so every node starts as the BMCs do)
    on free loopback ports, with ``nodes`` IPMI nodes and ``spare_bmcs``
    emulated BMCs more that no node uses, and return once it serves.

    :raises RuntimeError: with its output, if it exits or is not serving
        within :data:`START_TIMEOUT`.
    """
    argv = [sys.executable, "-m", "pserv.scripts.pserv", "demo", "--no-tour", "--nodes", str(nodes),
            "--spare-bmcs", str(spare_bmcs), "--listen", "127.0.0.1:0", "--rpc-listen", "127.0.0.1:0",
            "--data-dir", str(data_dir)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, start_new_session=True)
    demo = Demo(process, data_dir)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process, demo.lines, lines), daemon=True).start()
    try:
        _wait_until_serving(demo, lines, spare_bmcs)
    except BaseException:
        demo.stop()
        raise
    return demo


def _read_lines(process: subprocess.Popen[str], kept: list[str], lines: queue.Queue[str | None]) -> None:
    """Keep and pass on each line the demo prints; ``None`` when it closes its output."""
    assert process.stdout is not None
    for line in process.stdout:
        kept.append(line.rstrip("\n"))
        lines.put(kept[-1])
    lines.put(None)


def _wait_until_serving(demo: Demo, lines: queue.Queue[str | None], spare_bmcs: int) -> None:
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"pserv demo said nothing for {START_TIMEOUT:.0f} s:\n{demo.output()}") from None
        if line is None:
            raise RuntimeError(f"pserv demo exited ({demo.process.wait()}) before serving:\n{demo.output()}")
        _parse(demo, line)
        if line.startswith(SERVING):
            if not (demo.url and demo.token and demo.admin):
                raise RuntimeError(f"pserv demo serves but did not say its URL, token and user:\n{demo.output()}")
            if len(demo.spare_bmcs) != spare_bmcs:
                raise RuntimeError(f"pserv demo did not say its {spare_bmcs} spare BMCs:\n{demo.output()}")
            return


def _parse(demo: Demo, line: str) -> None:
    """Take the URL, token, user, BMC ports or spare BMCs from the demo's line ``line``, if it says one."""
    if found := REGION.match(line):
        demo.url = found.group(1)
    elif found := TOKEN.match(line):
        demo.token = found.group(1)
    elif found := USER.match(line):
        demo.admin = User(found.group(1), found.group(2), "admin")
    elif found := BMCS.match(line):
        demo.bmc_ports = _ports(found.group(1))
    elif found := SPARE.match(line):
        address, ports, username, password = found.groups()
        demo.spare_bmcs = [Bmc(address, port, username, password) for port in _ports(ports)]


def _ports(text: str) -> list[int]:
    """The ports of ``1, 2, 3``."""
    return [int(port) for port in text.split(",") if port.strip()]
