"""
The ``wol`` driver: Wake-on-LAN.  It can switch a node on and nothing else.

A magic packet (six 0xFF bytes, then the MAC address sixteen times) goes by
UDP to a broadcast address.  Nothing answers it, so it cannot be verified:
an ``on`` through this driver ends ``done`` with power ``unknown``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import DatagramProtocol

from pserv.power.drivers.base import PowerDriver
from pserv.power.errors import PowerTransientError, PowerUnsupportedError
from pserv.power.types.wol import WOL


def magic_packet(mac: str) -> bytes:
    """
    The Wake-on-LAN magic packet for ``mac``.
    """
    raw = bytes.fromhex(re.sub(r"[:-]", "", mac))
    return b"\xff" * 6 + raw * 16


class WakeOnLANDriver(PowerDriver):
    """
    Switches nodes on with a Wake-on-LAN magic packet.
    """

    power_type = WOL

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"wol {params.get('mac')}"

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        packet = magic_packet(params["mac"])
        sender = DatagramProtocol()
        try:
            port = self.reactor.listenUDP(0, sender)
        except Exception as e:
            return fail(PowerTransientError(f"{self.describe(params)}: cannot open a UDP socket: {e}"))
        try:
            port.setBroadcastAllowed(True)
            sender.transport.write(packet, (params["broadcast"], params["port"]))
        except OSError as e:
            return fail(PowerTransientError(f"{self.describe(params)}: send failed: {e.strerror or e}"))
        finally:
            port.stopListening()
        return succeed(None)

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        return fail(PowerUnsupportedError(f"{self.describe(params)}: Wake-on-LAN cannot switch a node off"))

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        return fail(PowerUnsupportedError(f"{self.describe(params)}: Wake-on-LAN cannot shut a node down"))

    def query(self, params: Mapping[str, Any]) -> Deferred[Any]:
        return fail(PowerUnsupportedError(f"{self.describe(params)}: Wake-on-LAN cannot read power"))
