"""
A real ``pserv-region`` process for tests: started with spawnProcess,
ready when it logs the address it listens on, killable with any signal.
"""

import re
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol

LISTENING = re.compile(rb"listening on http://([\d.]+):(\d+)/")


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


def start_region(*args: str) -> RegionProcess:
    process = RegionProcess()
    argv = [sys.executable, "-m", "pserv.scripts.region", *args, "run", "--listen", "127.0.0.1:0",
            "--rpc-listen", "127.0.0.1:0"]
    reactor.spawnProcess(process, sys.executable, argv, env=None)
    return process
