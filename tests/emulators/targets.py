"""
Each production power type's emulated peer, as one node that
``pserv-cluster power-test`` can drive.

A :class:`Target` holds a node's ``--set`` settings (strings, as the command
line gives them), sets the peer's power behind the driver's back, reads it
as the peer holds it, and says which commands the peer received, in the
vocabulary of the command's ``commands sent`` (``power_on``,
``power_off``, ``soft_off``).  The peers are the real emulators on
loopback: pyghmi's BMC server and ``ipmi_sim`` for IPMI, sushy-tools for
Redfish, snmpd for an SNMP PDU, a UDP listener for Wake-on-LAN, and the
log an operator reads for ``manual``.
"""

from __future__ import annotations

import re
from typing import Any

import treq
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import globalLogPublisher

from pserv.testing.emulators import redfish
from pserv.testing.emulators.ipmi_emulators import IpmiSim, PyghmiBMCs
from pserv.testing.emulators.snmp_pdu import SNMPPDUEmulator
from pserv.testing.emulators.snmp_pdu_agent import MODELS
from tests.emulators.ipmi_fixtures import PASSWORD, USERNAME

WOL_MAC = "52:54:00:12:34:56"
MAGIC_PACKET = b"\xff" * 6 + bytes.fromhex(WOL_MAC.replace(":", "")) * 16
"""What a Wake-on-LAN sender must send for WOL_MAC, written here apart from the driver."""


class Target:
    """
    One emulated node of ``power_type``, known in test ids as ``name``.

    :ivar settings: the node's ``--set`` settings.
    """

    name: str
    power_type: str
    settings: dict[str, str]

    def __init__(self) -> None:
        self._taken = 0

    async def set_power(self, state: str) -> None:
        """Switch the peer ``on`` or ``off`` behind the driver's back (then call :meth:`received`)."""

    async def power(self) -> str | None:
        """``on`` or ``off`` as the peer holds it; ``None`` if it holds no power state."""
        return None

    async def received(self) -> list[str]:
        """The commands the peer received since the last call, oldest first."""
        seen = await self._all_received()
        new, self._taken = seen[self._taken:], len(seen)
        return new

    async def _all_received(self) -> list[str]:
        raise NotImplementedError


class PyghmiTarget(Target):
    """A BMC of pyghmi's BMC server (IPMI 2.0), driven by the ``pyghmi`` backend."""

    power_type = "ipmi"
    CONTROLS = {0: "power_off", 1: "power_on", 5: "soft_off"}

    def __init__(self, bmcs: PyghmiBMCs, port: int) -> None:
        super().__init__()
        self.name, self.bmcs, self.port = "ipmi-pyghmi", bmcs, port
        self.settings = _ipmi_settings(port, "pyghmi")

    async def set_power(self, state: str) -> None:
        await self.bmcs.set(self.port, "power", state)

    async def power(self) -> str | None:
        return str((await self.bmcs.stats(self.port))["power"])

    async def _all_received(self) -> list[str]:
        return [self.CONTROLS.get(c, f"control {c}") for c in (await self.bmcs.stats(self.port))["controls"]]


class IpmiSimTarget(Target):
    """An OpenIPMI ``ipmi_sim`` BMC (IPMI 1.5), driven by the ``python-ipmi`` backend."""

    power_type = "ipmi"
    CONTROLS = {"power 0": "power_off", "power 1": "power_on", "shutdown 1": "soft_off"}

    def __init__(self, sim: IpmiSim) -> None:
        super().__init__()
        self.name, self.sim = "ipmi-ipmi_sim", sim
        self.settings = _ipmi_settings(sim.port, "python-ipmi")

    async def set_power(self, state: str) -> None:
        self.sim.set_power(state)

    async def power(self) -> str | None:
        return self.sim.power

    async def _all_received(self) -> list[str]:
        return [self.CONTROLS.get(c, c) for c in self.sim.controls]


class RedfishTarget(Target):
    """One system of sushy-tools' Redfish emulator (fake driver, resets at once)."""

    power_type = "redfish"
    RESETS = {"On": "power_on", "ForceOn": "power_on", "ForceOff": "power_off", "GracefulShutdown": "soft_off"}

    def __init__(self, sushy: redfish.SushyEmulator, system: str) -> None:
        super().__init__()
        self.name, self.sushy, self.system = "redfish", sushy, system
        self.settings = {k: str(v) for k, v in sushy.params(system_id=system).items()}

    async def set_power(self, state: str) -> None:
        if await self.power() != state:
            reset = f"{self.sushy.address}/redfish/v1/Systems/{self.system}/Actions/ComputerSystem.Reset"
            answer = await treq.post(reset, json={"ResetType": "On" if state == "on" else "ForceOff"},
                                     auth=(redfish.USERNAME, redfish.PASSWORD))
            assert answer.code == 204, answer.code
            assert await self.power() == state

    async def power(self) -> str | None:
        answer = await treq.get(f"{self.sushy.address}/redfish/v1/Systems/{self.system}",
                                auth=(redfish.USERNAME, redfish.PASSWORD))
        return str((await answer.json())["PowerState"]).lower()

    async def _all_received(self) -> list[str]:
        return [self.RESETS.get(kind, kind) for system, kind in self.sushy.resets if system == self.system]


class SNMPTarget(Target):
    """One outlet of snmpd playing an APC rack PDU, over SNMPv2c or SNMPv3."""

    power_type = "snmp_pdu"
    MODEL = "apc_rackpdu"

    def __init__(self, agent: SNMPPDUEmulator, outlet: int, settings: dict[str, Any]) -> None:
        super().__init__()
        self.agent, self.outlet = agent, outlet
        self.name = f"snmp_pdu-v{settings['version']}"
        self.settings = {k: str(v) for k, v in settings.items()}
        model = MODELS[self.MODEL]
        self._sets = {f"integer {model['on'][1]}": "power_on", f"integer {model['off'][1]}": "power_off"}
        self._oid = model["on"][0].format(n=outlet)

    async def set_power(self, state: str) -> None:
        self.agent.set_outlet(self.MODEL, self.outlet, state)

    async def power(self) -> str | None:
        return self.agent.outlet(self.MODEL, self.outlet)

    async def _all_received(self) -> list[str]:
        return [self._sets.get(value.lower(), value) for oid, value, *_ in self.agent.sets()
                if _same_oid(oid, self._oid)]


class WoLTarget(Target, DatagramProtocol):
    """
    A UDP listener on loopback standing for the broadcast domain: it
    receives the magic packets, and a marker the test sends after the
    command ran, so that "nothing arrived" is seen, not waited out.
    """

    power_type = "wol"
    MARKER = b"pserv-test-marker"

    def __init__(self) -> None:
        super().__init__()
        self.name = "wol"
        self.packets: list[bytes] = []
        self._marked: Deferred[None] | None = None
        self.settings = {"mac": WOL_MAC, "broadcast": "127.0.0.1"}

    def listening_on(self, port: int) -> None:
        """Say where the listener is, for the ``port`` setting."""
        self.settings["port"] = str(port)

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        if data == self.MARKER and self._marked is not None:
            marked, self._marked = self._marked, None
            marked.callback(None)
        else:
            self.packets.append(data)

    async def _all_received(self) -> list[str]:
        self._marked = Deferred()
        self.transport.write(self.MARKER, ("127.0.0.1", int(self.settings["port"])))
        await self._marked
        return ["power_on" if p == MAGIC_PACKET else f"packet {p!r}" for p in self.packets]


class ManualTarget(Target):
    """The operator of a ``manual`` node: what the driver logged for them to do."""

    power_type = "manual"
    ASKED = {"on": "power_on", "off": "power_off", "off (shut down the OS first)": "soft_off"}

    def __init__(self) -> None:
        super().__init__()
        self.name = "manual"
        self.settings = {"instructions": "rack 4, slot 2"}
        self.asked: list[str] = []

    def start(self) -> None:
        """Start reading the log."""
        globalLogPublisher.addObserver(self._observe)

    def stop(self) -> None:
        """Stop reading the log."""
        globalLogPublisher.removeObserver(self._observe)

    def _observe(self, event: dict[str, Any]) -> None:
        if str(event.get("log_format", "")).startswith("Operator action needed"):
            self.asked.append(event["what"])

    async def _all_received(self) -> list[str]:
        return [self.ASKED.get(what, what) for what in self.asked]


def _ipmi_settings(port: int, backend: str) -> dict[str, str]:
    return {"address": "127.0.0.1", "port": str(port), "username": USERNAME, "password": PASSWORD,
            "backend": backend}


def _same_oid(a: str, b: str) -> bool:
    return re.sub(r"^\.", "", a) == re.sub(r"^\.", "", b)
