"""
Several emulated IPMI 2.0 BMCs in one process, on pyghmi's BMC server.

Run as ``python -m pserv.testing.emulators.ipmi_bmc_server --count N --username U
--password P``.  It binds N BMCs to free UDP ports on 127.0.0.1, prints
``{"ports": [...]}`` on one line, then answers commands read from standard
input, one JSON line each:

* ``stats PORT`` -> the BMC's power state, counters and boot flags
  (``boot_flags``: the two first bytes of System Boot Options'
  parameter 5, as last set, ``[0, 0]`` until then);
* ``set PORT NAME JSON`` -> changes ``power`` ("on"/"off"), ``muted``
  (drop every packet), ``cipher_query`` (answer "Get Channel Cipher
  Suites"), ``soft_supported``, ``query_supported`` (answer Get Chassis
  Status; without it the BMC answers 0xC1, "invalid command") or
  ``max_sessions``.

It exits when standard input closes.

Why a separate process: pyghmi keeps client and server sessions in the same
process-wide tables (``Session.bmc_handlers``, one I/O thread, one select
loop).  A BMC server inside the test process would share them with the
driver's client sessions, and its listening loop would process their
packets and timeouts on its own thread; the driver would not be tested as
it runs in production.

Why its own receive loop: pyghmi's loop (``Session.wait_for_rsp``) passes
packets from its I/O thread to the waiting thread, and that hand-over has
the races the driver works around (a lost wakeup; a socket one thread
switched to blocking mode while the other reads it).  This process does
not reuse the driver's workaround, so that a fault in that workaround shows
in the driver's tests instead of being shared by the BMCs they run against:
:func:`serve` takes the BMCs' sockets away from pyghmi's I/O thread and
reads them on one thread, the one that answers.  One thread receiving,
handling and sending leaves nothing to race with; pyghmi is used only to
handle each packet.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import struct
import sys
import threading
import time
from typing import Any

from pyghmi.ipmi import bmc as pyghmi_bmc
from pyghmi.ipmi.private import serversession
from pyghmi.ipmi.private import session as pyghmi_session

OPEN_SESSION_REQUEST = 0x10
OPEN_SESSION_RESPONSE = 0x11
SETTABLE = {"power", "muted", "cipher_query", "soft_supported", "query_supported", "max_sessions"}
MAX_PACKET = 3000
"""The largest datagram read, as pyghmi reads them."""


class CountingSession(serversession.ServerSession):
    """
    A server-side session that counts handshakes and closes for its BMC.
    """

    counted = False

    def _got_rakp1(self, data: Any) -> None:
        self.bmc.rakp1 += 1
        super()._got_rakp1(data)

    def _got_rakp3(self, data: Any) -> None:
        super()._got_rakp3(data)
        if not self.counted and self.ipmicallback == self.handle_client_request:
            self.counted = True
            self.bmc.established += 1
            self.bmc.active += 1

    def _handle_ipmi_packet(self, data: Any, sockaddr: Any = None, qent: Any = None) -> Any:
        if self.bmc.muted:
            return None
        if _is_open_session_request(bytearray(data)):
            # A new handshake from a client address this session had: like
            # a real BMC, start a new session.  (pyghmi's server would feed
            # it to this stale session.)
            self.forget()
            self.bmc.sessionless_data(data, sockaddr)
            return None
        return super()._handle_ipmi_packet(data, sockaddr=sockaddr, qent=qent)

    def forget(self) -> None:
        """Stop routing this client's packets to this session."""
        handlers = pyghmi_session.Session.bmc_handlers.get(self.sockaddr, {})
        if handlers.get(self.bmc.port) is self:
            del handlers[self.bmc.port]

    def handle_client_request(self, request: Any) -> None:
        self.bmc.requests += 1
        super().handle_client_request(request)

    def close_server_session(self) -> None:
        self.forget()
        self.bmc.closes += 1
        if self.counted:
            self.counted = False
            self.bmc.active -= 1


class EmulatedBMC(pyghmi_bmc.Bmc):
    """
    One BMC with an in-memory chassis, and switches to misbehave like real ones.
    """

    def __init__(self, authdata: dict[str, str], address: str) -> None:
        super().__init__(authdata, port=0, address=address)
        # pyghmi routes a session's packets by this BMC's port number.
        self.port = self.serversocket.getsockname()[1]
        self.power = "off"
        self.muted = False
        self.cipher_query = True
        self.soft_supported = True
        self.query_supported = True
        self.max_sessions: int | None = None
        self.opens = self.rakp1 = self.established = self.closes = 0
        self.active = self.refused = self.requests = 0
        self.controls: list[int] = []
        self.controlled_at: list[float] = []
        """When each of :attr:`controls` came, by the machine's wall clock (``time.time()``, which every process shares)."""
        self.boot_flags = [0, 0]

    def _control(self, code: int) -> None:
        """Log one chassis control, with when it came."""
        self.controls.append(code)
        self.controlled_at.append(time.time())

    def get_power_state(self) -> str:
        if not self.query_supported:
            raise NotImplementedError  # pyghmi answers 0xC1
        return self.power

    def power_on(self) -> int:
        self._control(1)
        self.power = "on"
        return 0

    def power_off(self) -> int:
        self._control(0)
        self.power = "off"
        return 0

    def power_shutdown(self) -> int:
        self._control(5)
        if not self.soft_supported:
            raise NotImplementedError
        if self.power == "off":
            return 0xD5  # like many BMCs: no soft shutdown while off
        self.power = "off"
        return 0

    def power_reset(self) -> int:
        self._control(3)
        return 0xD5 if self.power == "off" else 0

    def set_system_boot_options(self, request: Any, session: Any) -> None:
        """Keep the boot flags (parameter 5) as sent, persistence included (pyghmi's own drops it)."""
        data = request["data"]
        if data and data[0] == 5 and len(data) >= 3:
            self.boot_flags = [data[1], data[2]]
        super().set_system_boot_options(request, session)

    def set_boot_device(self, bootdevice: Any) -> None:
        """pyghmi's handler names the device it decoded; the flags are kept as sent."""

    def get_system_boot_options(self, request: Any, session: Any) -> None:
        """Answer the boot flags as last set: version 1, parameter 5, the flags."""
        if request["data"] and request["data"][0] == 5:
            session.send_ipmi_response(data=[1, 5, *self.boot_flags, 0, 0, 0])
        else:
            session.send_ipmi_response(code=0x80)

    def sessionless_data(self, data: Any, sockaddr: Any) -> None:
        if self.muted:
            return
        packet = bytearray(data)
        if _is_open_session_request(packet):
            self._open_session(packet, sockaddr)
        elif self.cipher_query or not is_cipher_suites_query(packet):
            super().sessionless_data(data, sockaddr)

    def stats(self) -> dict[str, Any]:
        return {
            "power": self.power,
            "opens": self.opens,
            "rakp1": self.rakp1,
            "established": self.established,
            "closes": self.closes,
            "active": self.active,
            "refused": self.refused,
            "requests": self.requests,
            "controls": list(self.controls),
            "controlled_at": list(self.controlled_at),
            "boot_flags": list(self.boot_flags),
        }

    def _open_session(self, packet: bytearray, sockaddr: Any) -> None:
        self.opens += 1
        if self.max_sessions is not None and self.active >= self.max_sessions:
            self.refused += 1
            self._refuse_session(packet, sockaddr)
            return
        CountingSession(
            self.authdata, self.kg, sockaddr, self.serversocket, packet[16:], self.uuid, bmc=self
        )

    def _refuse_session(self, packet: bytearray, sockaddr: Any) -> None:
        request = packet[16:]
        # RMCP+ Open Session Response, status 0x01: insufficient resources.
        payload = bytes([request[0], 0x01, 0, 0]) + bytes(request[4:8])
        header = b"\x06\x00\xff\x07" + bytes([6, OPEN_SESSION_RESPONSE]) + bytes(8)
        response = header + struct.pack("<H", len(payload)) + payload
        pyghmi_session._io_sendto(self.serversocket, response, sockaddr)


def _is_open_session_request(packet: bytearray) -> bool:
    return (
        len(packet) >= 22
        and packet[0] == 6
        and packet[2:4] == b"\xff\x07"
        and packet[4] == 6
        and packet[5] == OPEN_SESSION_REQUEST
    )


def is_cipher_suites_query(packet: bytes | bytearray) -> bool:
    """
    Whether ``packet`` is a sessionless "Get Channel Cipher Suites"
    request (App netfn, command 0x54), in IPMI 1.5 or RMCP+ framing.
    """
    if len(packet) < 22:
        return False
    if packet[4] == 6:
        packet = packet[2:]
    return len(packet) > 19 and (packet[15] >> 2) == 6 and packet[19] == 0x54


def _answer(bmcs: dict[int, EmulatedBMC], line: str) -> dict[str, Any]:
    words = line.split(None, 3)
    if not words:
        return {"error": "empty command"}
    if words[0] == "stats" and len(words) == 2:
        return bmcs[int(words[1])].stats()
    if words[0] == "set" and len(words) == 4 and words[2] in SETTABLE:
        setattr(bmcs[int(words[1])], words[2], json.loads(words[3]))
        return {"ok": True}
    return {"error": f"unknown command {line!r}"}


def _control(bmcs: dict[int, EmulatedBMC]) -> None:
    for line in sys.stdin:
        try:
            reply = _answer(bmcs, line.strip())
        except (KeyError, ValueError) as error:
            reply = {"error": repr(error)}
        print(json.dumps(reply), flush=True)
    os._exit(0)


def own_sockets(bmcs: dict[int, EmulatedBMC]) -> selectors.BaseSelector:
    """
    Take the BMCs' sockets from pyghmi's I/O thread: a selector over them,
    for :func:`serve`.  Call it before any client can know the ports.
    """
    selector = selectors.DefaultSelector()
    for bmc in bmcs.values():
        pyghmi_session.iosockets.remove(bmc.serversocket)
        selector.register(bmc.serversocket, selectors.EVENT_READ)
    return selector


def serve(selector: selectors.BaseSelector) -> None:
    """
    Answer the BMCs' packets on this thread, forever.

    Only this thread reads the sockets, so one the selector reports
    readable holds a datagram, and ``recvfrom`` takes it at once whatever
    blocking mode pyghmi's last send left the socket in.
    """
    while True:
        for key, _ in selector.select():
            sock: Any = key.fileobj
            data, sockaddr = sock.recvfrom(MAX_PACKET)
            _dispatch(sock, data, sockaddr)


def _dispatch(sock: Any, data: bytes, sockaddr: Any) -> None:
    """
    Hand one datagram to the session it belongs to, as pyghmi's I/O
    thread would: the client's session on this BMC's port, else the BMC.
    """
    if len(data) < 4:
        return  # pyghmi's wake-up bytes, or noise
    handlers = pyghmi_session.Session.bmc_handlers
    session = handlers.get(sockaddr, {}).get(sock.getsockname()[1])
    in_session = session is not None
    if session is None:
        session = handlers[sock][0]
    session.pktqueue.append((data, sockaddr, sock, in_session))
    session.process_pktqueue()


def main(argv: list[str] | None = None) -> None:
    """Start the BMCs and serve until standard input closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="password")
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    authdata = {args.username: args.password}
    bmcs = {b.port: b for b in (EmulatedBMC(authdata, args.address) for _ in range(args.count))}
    selector = own_sockets(bmcs)
    print(json.dumps({"ports": list(bmcs)}), flush=True)
    threading.Thread(target=_control, args=(bmcs,), daemon=True).start()
    serve(selector)


if __name__ == "__main__":
    main()
