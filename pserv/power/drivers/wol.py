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
from pserv.power.settings import Setting, SettingsSchema, SettingType

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$", re.IGNORECASE)


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

    name = "wol"
    label = "Wake-on-LAN"
    settings = SettingsSchema(
        Setting("mac", "MAC address", required=True, help="aa:bb:cc:dd:ee:ff"),
        Setting("broadcast", "Broadcast address", SettingType.ADDRESS, default="255.255.255.255"),
        Setting("port", "UDP port", SettingType.INTEGER, default=9, minimum=1, maximum=65535),
    )

    def check(self, params: Mapping[str, Any]) -> None:
        if not _MAC.match(params["mac"]):
            raise self.settings["mac"].error("must be a MAC address like aa:bb:cc:dd:ee:ff")

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
