"""
A real ``pserv-region`` process for tests: started with spawnProcess,
ready when it logs the address it listens on, killable with any signal.

It is the region's own command (:func:`pserv.scripts.region.main`) with the
``fake`` power type added by the caller, the one way to add it: the
installed ``pserv-region`` passes none, and no option, setting or file
can, so a production config cannot slip into this.
"""

import re
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol

LISTENING = re.compile(rb"listening on http://([\d.]+):(\d+)/")

REGION_WITH_FAKE = (
    "import sys; from pserv.scripts.region import main; "
    "from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE; "
    "sys.exit(main(sys.argv[1:], power_types=POWER_TYPES_WITH_FAKE))"
)
"""``python -c`` source: ``pserv-region ARGS`` whose nodes may be fake."""

PRODUCTION_REGION = ("-m", "pserv.scripts.region")
"""``python -m pserv.scripts.region``: ``pserv-region`` as installed."""


class RegionProcess(ProcessProtocol):
    """One region process and everything it printed."""

    def __init__(self):
        self.output = b""
        self.ready: Deferred = Deferred()
        self.ended: Deferred = Deferred()
        self.url = None

    def outReceived(self, data):
        self.output += data
        found = LISTENING.search(self.output)
        if found and not self.ready.called:
            self.url = f"http://{found.group(1).decode()}:{found.group(2).decode()}"
            self.ready.callback(self.url)

    errReceived = outReceived

    def processEnded(self, reason):
        if not self.ready.called:
            self.ready.errback(RuntimeError(f"region exited: {self.output.decode(errors='replace')}"))
        self.ended.callback(reason.value.exitCode)

    def kill(self, signal="KILL"):
        self.transport.signalProcess(signal)
        return self.ended


def start_region(*args: str, fake: bool) -> RegionProcess:
    """
    ``pserv-region ARGS run`` on loopback ports; with ``fake``, its nodes
    may be fake.
    """
    process = RegionProcess()
    command = ("-c", REGION_WITH_FAKE) if fake else PRODUCTION_REGION
    argv = [sys.executable, *command, *args, "run", "--listen", "127.0.0.1:0",
            "--rpc-listen", "127.0.0.1:0"]
    reactor.spawnProcess(process, sys.executable, argv, env=None)
    return process
