"""
A net-snmp ``pass_persist`` handler that plays the outlets of a switched PDU.

snmpd runs this script (standard library only) and talks to it over
stdin/stdout: ``PING``/``PONG``, then ``get``, ``getnext`` and ``set``
requests for the subtrees it is registered under (``enterprises`` and
``sysObjectID``).  It implements the outlet MIBs of every vendor the driver
knows, written here from the vendors' MIBs independently of the driver's
table, so a round trip through snmpd checks the driver's table against a
second statement of the same facts.

All state lives in one JSON file shared by every handler process and the
test (see :mod:`pserv.testing.emulators.snmp_pdu`): outlet states per model, the
``sysObjectID`` to report, raw status values to force, delays to inject, and
a log of every SET with its start and end time.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

OUTLETS = 8
"""Outlets per emulated PDU: 1..8; any other index does not exist."""

# model -> on: (OID, value that switches on), off: (OID, value that switches
# off), status: (OID, value read when on, value read when off).
E = ".1.3.6.1.4.1."
MODELS: dict[str, dict[str, Any]] = {
    "apc_masterswitch": dict(
        on=(E + "318.1.1.4.4.2.1.3.{n}", 1), off=(E + "318.1.1.4.4.2.1.3.{n}", 2),
        status=(E + "318.1.1.4.4.2.1.3.{n}", 1, 2)),
    "apc_masterswitchplus": dict(
        on=(E + "318.1.1.6.5.1.1.5.{n}", 1), off=(E + "318.1.1.6.5.1.1.5.{n}", 3),
        status=(E + "318.1.1.6.5.1.1.5.{n}", 1, 3)),
    "apc_rackpdu": dict(
        on=(E + "318.1.1.12.3.3.1.1.4.{n}", 1), off=(E + "318.1.1.12.3.3.1.1.4.{n}", 2),
        status=(E + "318.1.1.12.3.3.1.1.4.{n}", 1, 2)),
    "aten": dict(
        on=(E + "21317.1.3.2.2.2.2.{n}.0", 2), off=(E + "21317.1.3.2.2.2.2.{n}.0", 1),
        status=(E + "21317.1.3.2.2.2.2.{n}.0", 2, 1)),
    "baytech_mrp27": dict(
        on=(E + "4779.1.3.5.3.1.3.1.{n}", 1), off=(E + "4779.1.3.5.3.1.3.1.{n}", 0),
        status=(E + "4779.1.3.5.3.1.3.1.{n}", 1, 0)),
    "cyberpower": dict(
        on=(E + "3808.1.1.3.3.3.1.1.4.{n}", 1), off=(E + "3808.1.1.3.3.3.1.1.4.{n}", 2),
        status=(E + "3808.1.1.3.3.3.1.1.4.{n}", 1, 2)),
    "eatonpower": dict(
        on=(E + "534.6.6.7.6.6.1.4.0.{n}", 0), off=(E + "534.6.6.7.6.6.1.3.0.{n}", 0),
        status=(E + "534.6.6.7.6.6.1.2.0.{n}", 1, 0)),
    "raritan_pdu2": dict(
        on=(E + "13742.6.4.1.2.1.2.1.{n}", 1), off=(E + "13742.6.4.1.2.1.2.1.{n}", 0),
        status=(E + "13742.6.4.1.2.1.3.1.{n}", 7, 8)),
    "servertech_sentry3": dict(
        on=(E + "1718.3.2.3.1.11.1.1.{n}", 1), off=(E + "1718.3.2.3.1.11.1.1.{n}", 2),
        status=(E + "1718.3.2.3.1.5.1.1.{n}", 1, 0)),
    "servertech_sentry4": dict(
        on=(E + "1718.4.1.8.5.1.2.1.1.{n}", 1), off=(E + "1718.4.1.8.5.1.2.1.1.{n}", 2),
        status=(E + "1718.4.1.8.3.1.1.1.1.{n}", 1, 2)),
    "teltronix": dict(
        on=(E + "23620.1.2.2.1.4.{n}", 2), off=(E + "23620.1.2.2.1.4.{n}", 1),
        status=(E + "23620.1.2.2.1.4.{n}", 2, 1)),
    "vertivgeist_pdu": dict(
        on=(E + "21239.5.2.3.5.1.6.{n}", 2), off=(E + "21239.5.2.3.5.1.6.{n}", 4),
        status=(E + "21239.5.2.3.5.1.4.{n}", 1, 2)),
}

SYS_OBJECT_ID = ".1.3.6.1.2.1.1.2.0"


def parts(oid: str) -> tuple[int, ...]:
    """The arcs of a dotted OID."""
    return tuple(int(p) for p in oid.strip(".").split("."))


def dotted(arcs: tuple[int, ...]) -> str:
    """A dotted OID with a leading dot, as snmpd writes them."""
    return "." + ".".join(str(a) for a in arcs)


def build_index() -> dict[tuple[int, ...], tuple[str, int, str]]:
    """Every instance OID -> (model, outlet, role): on, off, status."""
    index: dict[tuple[int, ...], tuple[str, int, str]] = {}
    for model, m in MODELS.items():
        for outlet in range(1, OUTLETS + 1):
            for role in ("status", "off", "on"):
                oid = parts(m[role][0].format(n=outlet))
                index.setdefault(oid, (model, outlet, role))
    return index


INDEX = build_index()
ORDER = sorted(INDEX) + [parts(SYS_OBJECT_ID)]
ORDER.sort()


@contextmanager
def locked_state(path: str, write: bool) -> Iterator[dict[str, Any]]:
    """The shared state, under an exclusive lock; saved back if ``write``."""
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path) as f:
            state = json.load(f)
        yield state
        if write:
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(state, f)
            os.replace(tmp, path)


def outlet_key(model: str, outlet: int) -> str:
    return f"{model}:{outlet}"


def read_value(state: dict[str, Any], oid: tuple[int, ...]) -> tuple[str, str] | None:
    """The (type, value) at ``oid``, or ``None`` if no such instance."""
    if oid == parts(SYS_OBJECT_ID):
        return "objectid", state["sys_object_id"]
    if oid not in INDEX:
        return None
    forced = state["forced"].get(dotted(oid))
    if forced is not None:
        return "integer", str(forced)
    model, outlet, role = INDEX[oid]
    on = state["outlets"].get(outlet_key(model, outlet), "on") == "on"
    m = MODELS[model]
    if role == "status":
        return "integer", str(m["status"][1] if on else m["status"][2])
    # A command object with its own OID reads back as "nothing pending".
    return "integer", "-1"


def do_get(state: dict[str, Any], oid: str) -> list[str]:
    found = read_value(state, parts(oid))
    return ["NONE"] if found is None else [oid, *found]


def do_getnext(state: dict[str, Any], oid: str) -> list[str]:
    after = parts(oid)
    for candidate in ORDER:
        if candidate > after:
            found = read_value(state, candidate)
            if found is not None:
                return [dotted(candidate), *found]
    return ["NONE"]


def do_set(state: dict[str, Any], oid: str, typed_value: str) -> str:
    """Apply a SET; return ``DONE`` or a pass_persist error word."""
    kind, _, text = typed_value.partition(" ")
    arcs = parts(oid)
    if arcs not in INDEX:
        return "not-writable"
    if kind.lower() != "integer":
        return "wrong-type"
    model, outlet, _ = INDEX[arcs]
    m = MODELS[model]
    value = int(text)
    for state_name in ("on", "off"):
        if arcs == parts(m[state_name][0].format(n=outlet)) and value == m[state_name][1]:
            state["outlets"][outlet_key(model, outlet)] = state_name
            return "DONE"
    return "wrong-value"


def serve(path: str, stdin: Any, stdout: Any) -> None:
    """Answer snmpd until it closes our stdin."""
    while True:
        line = stdin.readline()
        if not line:
            return  # snmpd closed the pipe
        command = line.strip()
        if not command:
            continue  # snmpd ends a set with an extra blank line
        if command == "PING":
            reply = ["PONG"]
        elif command in ("get", "getnext"):
            oid = stdin.readline().strip()
            with locked_state(path, write=False) as state:
                reply = (do_get if command == "get" else do_getnext)(state, oid)
                pause = state["delays"].get(oid, 0)
            if pause:
                time.sleep(pause)  # a slow PDU, outside the state lock
        elif command == "set":
            oid = stdin.readline().strip()
            typed_value = stdin.readline().strip()
            reply = [handle_set(path, oid, typed_value)]
        else:
            reply = ["NONE"]
        stdout.write("\n".join(reply) + "\n")
        stdout.flush()


def handle_set(path: str, oid: str, typed_value: str) -> str:
    """A SET, logged with its start and end time around any delay."""
    start = time.time()
    with locked_state(path, write=False) as state:
        pause = state["delays"].get(oid, 0) or state.get("set_delay", 0)
    if pause:
        time.sleep(pause)
    with locked_state(path, write=True) as state:
        result = do_set(state, oid, typed_value)
        state["sets"].append([oid, typed_value, result, start, time.time()])
    return result


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin, sys.stdout)
