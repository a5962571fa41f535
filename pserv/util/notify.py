"""
Telling systemd how a daemon is doing: the ``sd_notify`` protocol (one
datagram to the AF_UNIX socket ``$NOTIFY_SOCKET`` names), which the
packages' ``Type=notify`` units wait on.  Standard library only: the
protocol is one ``sendto``.
"""

from __future__ import annotations

import os
import socket
from typing import Mapping

from twisted.logger import Logger

log = Logger()

READY = "READY=1"
STOPPING = "STOPPING=1"


def notify(state: str, environ: Mapping[str, str] = os.environ) -> bool:
    """
    Send ``state`` (``READY=1``, ``STOPPING=1``, ``STATUS=...``) to the
    service manager.  Returns whether it was sent: ``False`` when no
    manager asked (``NOTIFY_SOCKET`` unset) or the socket failed, which
    is logged and never raised: a daemon must not die of it.
    """
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)  # never stall the reactor on a full queue
            sender.sendto(state.encode(), address)
    except OSError as e:
        log.warn("cannot tell the service manager {state}: {error}", state=state, error=e.strerror or e)
        return False
    return True
