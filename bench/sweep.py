"""
Power-status sweep over N emulated IPMI BMCs: pserv vs Ironic vs MAAS.

Usage: ``python bench/sweep.py N [--concurrency C]``

Starts N IPMI 2.0 BMCs on loopback: pyghmi's BMC server (the base of
OpenStack's virtualbmc), in-memory chassis, up to 250 BMCs per child
process (see ``pserv/testing/emulators/ipmi_bmc_server.py``).  It is the lightest
emulator here that ``ipmitool -I lanplus``, freeipmi's ``ipmipower`` and
pyghmi all speak to: a few hundred bytes of state per BMC, no process per
BMC.  Then, with the same bound on concurrent queries, it reads every
BMC's power state:

1. with the ``ipmi`` driver, twice: cold (a session handshake per BMC),
   then warm (sessions reused);
2. as Ironic does: one ``ipmitool -I lanplus ... power status`` process
   per node, with a password file;
3. as MAAS does: one ``ipmipower -D LAN_2_0 ... --stat`` process per node.

The last lines are ``pserv_queries_per_second`` (the warm sweep: the
driver's steady state), ``ipmitool_queries_per_second``,
``ipmipower_queries_per_second`` and the two ratios; the cold figures are
printed just before them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twisted.internet import defer, task  # noqa: E402
from twisted.internet.utils import getProcessOutputAndValue  # noqa: E402

from pserv.power.drivers.ipmi.driver import IPMIDriver  # noqa: E402
from pserv.power.states import PowerState  # noqa: E402
from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs  # noqa: E402

USERNAME = "bench"
PASSWORD = "Bench-pass-1"
BMCS_PER_PROCESS = 250


async def start_bmcs(reactor: Any, count: int) -> tuple[list[PyghmiBMCs], list[int]]:
    """Start ``count`` emulated BMCs over as many processes as needed."""
    groups = []
    left = count
    while left > 0:
        size = min(left, BMCS_PER_PROCESS)
        groups.append(PyghmiBMCs(reactor, size, USERNAME, PASSWORD))
        left -= size
    starting = [defer.Deferred.fromCoroutine(g.start()) for g in groups]
    port_lists = await defer.gatherResults(starting)
    return groups, [port for ports in port_lists for port in ports]


async def sweep(
    ports: list[int], concurrency: int, query: Callable[[int], Awaitable[bool]]
) -> tuple[float, int]:
    """Query every port, ``concurrency`` at a time; (seconds, failures)."""
    limit = defer.DeferredSemaphore(concurrency)

    async def one(port: int) -> bool:
        await limit.acquire()
        try:
            return await query(port)
        except Exception:  # noqa: BLE001 - counted as a failure
            return False
        finally:
            limit.release()

    started = time.monotonic()
    results = await defer.gatherResults([defer.Deferred.fromCoroutine(one(p)) for p in ports])
    return time.monotonic() - started, results.count(False)


def pserv_query(driver: IPMIDriver) -> Callable[[int], Awaitable[bool]]:
    """A query through the ``ipmi`` driver."""

    async def query(port: int) -> bool:
        params = {"address": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD}
        return await driver.query(params) in (PowerState.ON, PowerState.OFF)

    return query


def process_query(
    tool: str, argv_for: Callable[[int], list[str]], expect: bytes
) -> Callable[[int], Awaitable[bool]]:
    """A query as one subprocess; success if its output contains ``expect``."""

    async def query(port: int) -> bool:
        out, _, code = await getProcessOutputAndValue(tool, argv_for(port), env={})
        return code == 0 and expect in out

    return query


def ipmitool_argv(password_file: str) -> Callable[[int], list[str]]:
    """Ironic's ipmitool command line for ``power status``."""

    def argv(port: int) -> list[str]:
        return [
            "-I",
            "lanplus",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
            "-L",
            "ADMINISTRATOR",
            "-U",
            USERNAME,
            "-R",
            "12",
            "-N",
            "5",
            "-f",
            password_file,
            "power",
            "status",
        ]

    return argv


def ipmipower_argv(port: int) -> list[str]:
    """MAAS's ipmipower command line for ``--stat``."""
    return [
        "-D",
        "LAN_2_0",
        "-h",
        f"127.0.0.1:{port}",
        "-u",
        USERNAME,
        "-p",
        PASSWORD,
        "-l",
        "ADMIN",
        "-I",
        "3",
        "--stat",
    ]


def report(name: str, count: int, seconds: float, failures: int) -> float:
    """Print one sweep's figures; its queries per second."""
    rate = count / seconds if seconds else 0.0
    print(
        f"# {name}: {count} queries in {seconds:.2f}s, {failures} failed, {rate:.1f}/s", flush=True
    )
    return rate


async def run(reactor: Any, count: int, concurrency: int) -> None:
    """Start the BMCs, run the four sweeps, print the figures."""
    groups, ports = await start_bmcs(reactor, count)
    print(
        f"# {count} BMCs (pyghmi.ipmi.bmc.Bmc, {len(groups)} processes), concurrency {concurrency}",
        flush=True,
    )
    driver = IPMIDriver(reactor, max_threads=concurrency, idle_timeout=600.0, timeout=30.0)
    with tempfile.TemporaryDirectory() as scratch:
        password_file = os.path.join(scratch, "password")
        Path(password_file).write_text(PASSWORD)
        try:
            cold = report(
                "pserv cold", count, *await sweep(ports, concurrency, pserv_query(driver))
            )
            warm = report(
                "pserv warm", count, *await sweep(ports, concurrency, pserv_query(driver))
            )
            ipmitool = process_query(_tool("ipmitool"), ipmitool_argv(password_file), b"Power is")
            tool_rate = report("ipmitool", count, *await sweep(ports, concurrency, ipmitool))
            ipmipower = process_query(_tool("ipmipower"), ipmipower_argv, b": o")
            power_rate = report("ipmipower", count, *await sweep(ports, concurrency, ipmipower))
        finally:
            await driver.close()
            for group in groups:
                await group.stop()
    print(f"pserv_cold_queries_per_second: {cold:.1f}")
    print(f"ratio_cold_vs_ipmitool: {_ratio(cold, tool_rate)}")
    print(f"ratio_cold_vs_ipmipower: {_ratio(cold, power_rate)}")
    print(f"pserv_queries_per_second: {warm:.1f}")
    print(f"ipmitool_queries_per_second: {tool_rate:.1f}")
    print(f"ipmipower_queries_per_second: {power_rate:.1f}")
    print(f"ratio_vs_ipmitool: {_ratio(warm, tool_rate)}")
    print(f"ratio_vs_ipmipower: {_ratio(warm, power_rate)}")


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "inf"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise SystemExit(f"{name} is not installed (apt-get install ipmitool freeipmi-tools)")
    return found


def main() -> None:
    """Parse the arguments and run the sweep on the reactor."""
    parser = argparse.ArgumentParser(description="IPMI power-status sweep benchmark")
    parser.add_argument("count", type=int, help="how many BMCs to emulate")
    parser.add_argument("--concurrency", type=int, default=16, help="queries at once")
    args = parser.parse_args()
    task.react(
        lambda reactor: defer.Deferred.fromCoroutine(run(reactor, args.count, args.concurrency))
    )


if __name__ == "__main__":
    main()
