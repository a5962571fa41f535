"""
Tests for pserv.scripts.power_test: the power-test command's work.

Every production power type runs every action through power-test against
its real emulated peer on loopback (:mod:`tests.emulators.targets`), from
the table :data:`CASES`: the exit status, the one line printed, the power
the peer ends in and the commands the peer received.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.utils import getProcessOutputAndValue

from pserv.cluster.driver_set import DriverSet
from pserv.power.types import POWER_TYPES
from pserv.scripts.power_test import EXIT_FAILED, EXIT_OK, PowerCheck, UsageError
from pserv.testing.emulators import redfish
from pserv.testing.emulators.ipmi_emulators import REPO_ROOT
from pserv.testing.fake_driver import FakeDriver
from tests.emulators.ipmi_fixtures import ipmi_sims, pyghmi_bmcs  # noqa: F401 - fixtures
from tests.emulators.snmp_fixtures import agent, v2c, v3  # noqa: F401 - agent is a fixture
from tests.emulators.targets import (
    IpmiSimTarget,
    ManualTarget,
    PyghmiTarget,
    RedfishTarget,
    SNMPTarget,
    Target,
    WoLTarget,
)

REAL_PEERS = ("ipmi-pyghmi", "ipmi-ipmi_sim", "redfish", "snmp_pdu-v2c", "snmp_pdu-v3")
"""Targets whose peer holds a power state that power-test reads and switches."""


@dataclass(frozen=True)
class Case:
    """
    One power-test run: ``kind`` through ``target``, whose peer is
    ``before`` at the start.  It exits ``status`` and prints ``said`` after
    the node's description (a refusal: ``said`` is in the line); the peer
    ends ``after``, having received ``received``.
    """

    target: str
    kind: str
    before: str | None
    status: int
    said: str
    after: str | None
    received: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.target}-{self.kind}-from-{self.before or 'any'}"


def done(target: str, kind: str, before: str | None, after: str | None, *commands: str) -> Case:
    """A run that succeeds, printing the state verified and the commands sent."""
    sent = ", ".join(commands) or "none"
    line = f"{kind} done: power {after or 'unknown'} [commands sent: {sent}]"
    return Case(target, kind, before, EXIT_OK, line, after, commands)


def refused(target: str, kind: str, before: str | None, reason: str) -> Case:
    """A run the driver cannot do: exit 1, the reason in one line, nothing reaches the peer."""
    return Case(target, kind, before, EXIT_FAILED, reason, before, ())


SWITCHING = [
    ("on", "off", "on", ("power_on",)),
    ("on", "on", "on", ()),
    ("off", "on", "off", ("power_off",)),
    ("off", "off", "off", ()),
    ("cycle", "on", "on", ("power_off", "power_on")),
    ("cycle", "off", "on", ("power_on",)),
    ("soft_off", "on", "off", ("soft_off",)),
    ("soft_off", "off", "off", ()),
    ("query", "on", "on", ()),
    ("query", "off", "off", ()),
]
"""(kind, before, after, commands) for a peer that can do every action."""

CANNOT_READ = "cannot read power"
CANNOT_CYCLE = "cannot cycle a node whose power cannot be read"
PDU_SOFT_OFF = "cannot soft off: a PDU outlet can only cut"

CASES: list[Case] = [
    *(done(t, kind, before, after, *sent) for t in REAL_PEERS for kind, before, after, sent in SWITCHING
      if not (t.startswith("snmp_pdu") and kind == "soft_off")),
    refused("snmp_pdu-v2c", "soft_off", "on", PDU_SOFT_OFF),
    refused("snmp_pdu-v3", "soft_off", "on", PDU_SOFT_OFF),
    done("snmp_pdu-v2c", "soft_off", "off", "off"),
    done("wol", "on", None, None, "power_on"),
    refused("wol", "off", None, "Wake-on-LAN cannot switch a node off"),
    refused("wol", "soft_off", None, "Wake-on-LAN cannot shut a node down"),
    refused("wol", "cycle", None, CANNOT_CYCLE),
    refused("wol", "query", None, CANNOT_READ),
    done("manual", "on", None, None, "power_on"),
    done("manual", "off", None, None, "power_off"),
    done("manual", "soft_off", None, None, "soft_off"),
    refused("manual", "cycle", None, CANNOT_CYCLE),
    refused("manual", "query", None, CANNOT_READ),
]
"""Every production power type, every action."""


def test_the_table_covers_every_power_type_and_action():
    """CASES runs every production power type through every action kind."""
    types = {t: t.split("-")[0] for t in {c.target for c in CASES}}
    assert set(types.values()) == set(POWER_TYPES)
    for power_type in POWER_TYPES:
        kinds = {c.kind for c in CASES if types[c.target] == power_type}
        assert kinds == {"on", "off", "cycle", "soft_off", "query"}, power_type


@pytest.fixture(scope="module")
def sushy(tmp_path_factory):
    """sushy-tools applying each reset at once, so that actions verify quickly."""
    emulator = redfish.SushyEmulator(tmp_path_factory.mktemp("sushy-instant"), instant=True)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def targets(pyghmi_bmcs, ipmi_sims, sushy, agent):  # noqa: F811 - fixtures
    """One emulated node of each production power type, by target name."""
    wol, manual = WoLTarget(), ManualTarget()
    listening = reactor.listenUDP(0, wol, interface="127.0.0.1")
    wol.listening_on(listening.getHost().port)
    manual.start()
    made: list[Target] = [
        PyghmiTarget(pyghmi_bmcs, pyghmi_bmcs.ports[0]), IpmiSimTarget(ipmi_sims[0]),
        RedfishTarget(sushy, redfish.OFF_SYSTEM),
        SNMPTarget(agent, 3, v2c(agent, outlet=3, cycle_delay=0)),
        SNMPTarget(agent, 4, v3(agent, outlet=4, cycle_delay=0)),
        wol, manual,
    ]
    yield {t.name: t for t in made}
    manual.stop()
    listening.stopListening()


async def ready(target: Target, before: str | None) -> None:
    """Put the peer in ``before`` and forget what it received so far."""
    if before is not None:
        await target.set_power(before)
    await target.received()


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest_twisted.ensureDeferred
async def test_every_power_type_every_action(targets, case):
    """power-test exits as the table says with one line, and the peer's power and commands match."""
    target = targets[case.target]
    await ready(target, case.before)
    status, line = await PowerCheck.prepare(reactor, target.power_type, case.kind, target.settings).run(reactor)
    said = line.split(": ", 1)[1]
    assert "\n" not in line and "Traceback" not in line
    if case.status == EXIT_OK:
        assert (status, said) == (EXIT_OK, case.said)
    else:
        assert status == EXIT_FAILED and said.startswith(f"{case.kind} failed (fatal): "), line
        assert case.said in said, line
    assert (await target.power(), tuple(await target.received())) == (case.after, case.received)


COMMAND_CASES = [
    done("ipmi-pyghmi", "cycle", "on", "on", "power_off", "power_on"),
    done("redfish", "on", "off", "on", "power_on"),
    done("snmp_pdu-v3", "off", "on", "off", "power_off"),
    done("wol", "on", None, None, "power_on"),
    done("manual", "off", None, None, "power_off"),
]
"""One run of the command itself per power type (manual's operator log is the child's own)."""


@pytest.mark.parametrize("case", COMMAND_CASES, ids=str)
@pytest_twisted.ensureDeferred
async def test_the_command_itself(targets, case):
    """pserv-cluster power-test TYPE ACTION --set ... in its own process: exit status, one line, the peer."""
    target = targets[case.target]
    await ready(target, case.before)
    sets = [arg for key, value in target.settings.items() for arg in ("--set", f"{key}={value}")]
    argv = ["-m", "pserv.scripts.cluster", "power-test", target.power_type, case.kind, *sets]
    out, err, status = await getProcessOutputAndValue(sys.executable, argv, path=str(REPO_ROOT))
    assert (status, err.decode()) == (case.status, ""), out
    assert out.decode().count("\n") == 1 and case.said in out.decode()
    if case.target != "manual":
        assert (await target.power(), tuple(await target.received())) == (case.after, case.received)


def with_fake():
    return DriverSet(reactor, {"fake": FakeDriver(reactor)})


def test_prepare_names_the_bad_field_not_the_secret():
    """Bad settings are a usage error naming the field, never echoing a secret."""
    with pytest.raises(UsageError) as caught:
        PowerCheck.prepare(reactor, "fake", "on", {"address": "n1", "latency": "hunter2"}, drivers=with_fake())
    assert str(caught.value) == "latency: must be a number"
    with pytest.raises(UsageError, match="power_type: unknown driver"):
        PowerCheck.prepare(reactor, "nope", "on", {})


@pytest.mark.parametrize("kind, seconds", [("soft_off", -1.0), ("soft_off", 0.0), ("soft_off", float("nan")),
                                           ("soft_off", float("inf")), ("off", 5.0)])
def test_prepare_refuses_an_escalation_that_cannot_be_kept(kind, seconds):
    """--escalate-after is a usage error unless soft_off waits a finite positive time (nan or inf waited for ever)."""
    with pytest.raises(UsageError, match="^--escalate-after: "):
        PowerCheck.prepare(reactor, "fake", kind, {"address": "n1"}, seconds, drivers=with_fake())


def test_prepare_knows_no_fake_unless_given():
    """Without drivers given, only production drivers are known: fake is an unknown power_type."""
    with pytest.raises(UsageError, match="^power_type: unknown driver 'fake'; known: ipmi, manual"):
        PowerCheck.prepare(reactor, "fake", "on", {"address": "n1"})


@pytest_twisted.ensureDeferred
async def test_run_success():
    """A successful action exits 0 and prints the verified state and what was sent."""
    check = PowerCheck.prepare(reactor, "fake", "on", {"address": "n1", "password": "hunter2"}, drivers=with_fake())
    status, line = await check.run(reactor)
    assert (status, line) == (EXIT_OK, "fake n1: on done: power on [commands sent: power_on]")


@pytest_twisted.ensureDeferred
async def test_run_failure():
    """A failed action exits 1 and says whether the failure was fatal."""
    check = PowerCheck.prepare(reactor, "wol", "query", {"mac": "52:54:00:12:34:56"})
    status, line = await check.run(reactor)
    assert status == EXIT_FAILED and "query failed (fatal)" in line and "cannot read power" in line
