"""
Tests for pserv.power.drivers.wol, sending real UDP packets on loopback.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock

from pserv.power.actions import CycleAction, OnAction
from pserv.power.drivers.wol import WakeOnLANDriver, magic_packet
from pserv.power.errors import PowerSettingsError, PowerUnsupportedError
from pserv.power.states import PowerState

MAC = "52:54:00:12:34:56"


class Receiver(DatagramProtocol):
    """A UDP listener that keeps what it receives."""

    def __init__(self):
        self.received: Deferred = Deferred()

    def datagramReceived(self, data, addr):
        if not self.received.called:
            self.received.callback(data)


@pytest.fixture
def receiver():
    listener = Receiver()
    port = reactor.listenUDP(0, listener, interface="127.0.0.1")
    yield listener, port.getHost().port
    port.stopListening()


def test_magic_packet_format():
    """The magic packet is six 0xFF bytes then the MAC sixteen times."""
    packet = magic_packet("52-54-00-12-34-56")
    assert len(packet) == 102 and packet[:6] == b"\xff" * 6
    assert packet[6:12] == bytes.fromhex("525400123456") and packet[6:] == packet[6:12] * 16


@pytest_twisted.ensureDeferred
async def test_on_action_sends_the_packet(receiver):
    """An on action sends the magic packet once and ends done with power unknown."""
    listener, port = receiver
    control = WakeOnLANDriver(reactor).bind({"mac": MAC, "broadcast": "127.0.0.1", "port": port})
    action = OnAction(control, reactor)
    await action.start()
    assert (action.error, action.state, action.commands) == (None, PowerState.UNKNOWN, ["power_on"])
    assert await listener.received == magic_packet(MAC)


def test_declares_it_cannot_read_power():
    """Wake-on-LAN declares it cannot read power, so its on is sent unread."""
    assert WakeOnLANDriver.can_query is False and WakeOnLANDriver(Clock()).bind({"mac": MAC}).can_query is False


@pytest.mark.parametrize("operation", ["power_off", "soft_off", "query"])
def test_only_on_is_supported(operation):
    """off, soft off and query fail as unsupported, saying why."""
    control = WakeOnLANDriver(Clock()).bind({"mac": MAC})
    failures = []
    getattr(control, operation)().addErrback(failures.append)
    assert failures[0].check(PowerUnsupportedError)
    assert "Wake-on-LAN cannot" in failures[0].getErrorMessage()


def test_cycle_is_refused():
    """A cycle through Wake-on-LAN is refused without sending anything."""
    clock = Clock()
    action = CycleAction(WakeOnLANDriver(clock).bind({"mac": MAC}), clock)
    action.start()
    assert isinstance(action.error, PowerUnsupportedError)


@pytest.mark.parametrize(
    "params, field",
    [({}, "mac"), ({"mac": "52:54:00:12:34"}, "mac"), ({"mac": MAC, "port": 0}, "port"),
     ({"mac": MAC, "broadcast": "not/an/address"}, "broadcast")],
)
def test_bad_settings_name_the_field(params, field):
    """Bad settings raise an error naming the field."""
    with pytest.raises(PowerSettingsError) as caught:
        WakeOnLANDriver(Clock()).bind(params)
    assert caught.value.field == field


def test_defaults():
    """The broadcast address and port default to 255.255.255.255 and 9."""
    params = WakeOnLANDriver(Clock()).bind({"mac": MAC}).params
    assert (params["broadcast"], params["port"]) == ("255.255.255.255", 9)
