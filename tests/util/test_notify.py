"""
Tests for pserv.util.notify: the sd_notify datagrams.
"""

import os
import socket

from pserv.util.notify import READY, notify


def receiver(address):
    """A datagram socket bound at ``address``, as systemd's notify socket is."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_the_state_reaches_the_socket(tmp_path):
    """With NOTIFY_SOCKET a path, the state arrives there as one datagram."""
    path = str(tmp_path / "notify")
    with receiver(path) as sock:
        assert notify(READY, {"NOTIFY_SOCKET": path})
        assert sock.recv(100) == b"READY=1"


def test_an_abstract_socket_is_reached(tmp_path):
    """A NOTIFY_SOCKET starting with @ names Linux's abstract namespace."""
    name = f"pserv-test-notify-{os.getpid()}"
    with receiver("\0" + name) as sock:
        assert notify("STATUS=listening", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"STATUS=listening"


def test_no_socket_no_message():
    """Without NOTIFY_SOCKET (not under systemd) nothing is sent."""
    assert notify(READY, {}) is False


def test_a_dead_socket_is_not_fatal(tmp_path):
    """A NOTIFY_SOCKET nobody listens on is reported as not sent, never raised."""
    assert notify(READY, {"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False
