"""
Real pserv processes for system tests, and waiting on what they print.
"""

import json
import re
import shutil
import subprocess
import sys
import time

import treq

from twisted.internet.defer import Deferred
from twisted.internet.protocol import ProcessProtocol


class Watched(ProcessProtocol):
    """A child process whose output can be waited on, line by pattern."""

    def __init__(self, name):
        self.name = name
        self.output = ""
        self.ended: Deferred = Deferred()
        self._waiters = []

    def outReceived(self, data):
        self.output += data.decode(errors="replace")
        self._check()

    errReceived = outReceived

    def processEnded(self, reason):
        for pattern, start, waiter in self._waiters:
            waiter.errback(RuntimeError(f"{self.name} exited before printing {pattern!r}:\n{self.output}"))
        self._waiters = []
        self.ended.callback(reason.value.exitCode)

    def wait_for(self, pattern, start=None, timeout=60.0):
        """
        Fires with the first match of ``pattern`` printed from ``start``
        (now, by default); fails with everything printed if ``timeout``
        seconds pass first.
        """
        from twisted.internet import reactor

        waiter: Deferred = Deferred()
        self._waiters.append((re.compile(pattern), len(self.output) if start is None else start, waiter))
        self._check()
        if not waiter.called:
            waiter.addTimeout(timeout, reactor, onTimeoutCancel=lambda result, t: self._timed_out(pattern, t))
        return waiter

    def _timed_out(self, pattern, seconds):
        self._waiters = [entry for entry in self._waiters if not entry[2].called]
        raise AssertionError(f"{self.name} printed no {pattern!r} in {seconds:g}s; it printed:\n{self.output}")

    def _check(self):
        ready, pending = [], []
        for pattern, start, waiter in self._waiters:
            found = pattern.search(self.output, start)
            if found:
                ready.append((waiter, found))
            else:
                pending.append((pattern, start, waiter))
        self._waiters = pending
        for waiter, found in ready:
            waiter.callback(found)

    def kill(self, signal="KILL"):
        self.transport.signalProcess(signal)
        return self.ended


def spawn(reactor, name, *args):
    """Start ``python -m ARGS`` as a watched child."""
    process = Watched(name)
    reactor.spawnProcess(process, sys.executable, [sys.executable, "-m", *args], env=None)
    return process


async def start_region(reactor, data_dir, api_port=0, rpc_port=0):
    """A region process; fires with (process, api URL, RPC HOST:PORT) once it listens."""
    region = spawn(reactor, "region", "pserv.scripts.region", "--data-dir", str(data_dir), "run",
                   "--listen", f"127.0.0.1:{api_port}", "--rpc-listen", f"127.0.0.1:{rpc_port}")
    rpc = await region.wait_for(r"RPC for clusters on ([\d.]+):(\d+)", 0)
    api = await region.wait_for(r"listening on (http://[\d.]+:\d+)/", 0)
    return region, api.group(1), f"{rpc.group(1)}:{rpc.group(2)}"


async def start_cluster(reactor, rpc, secret_file, *extra):
    """A cluster process named rack-1 (``extra``: more arguments of ``run``); fires with it once it has recovered."""
    cluster = spawn(reactor, "cluster", "pserv.scripts.cluster", "run", "--region", rpc,
                    "--name", "rack-1", "--secret-file", str(secret_file), "--sync-interval", "3600", *extra)
    await cluster.wait_for(r"recovered \d+ node", 0)
    return cluster


def init_region(tmp_path):
    """
    ``pserv-region init`` in ``tmp_path/region``: its data directory, the
    admin token it printed once, and a copy of its secret for a cluster.
    """
    data = tmp_path / "region"
    done = subprocess.run([sys.executable, "-m", "pserv.scripts.region", "--data-dir", str(data), "init"],
                          capture_output=True, text=True, timeout=60, check=True)
    token = done.stdout.split("admin token (shown once): ")[1].strip()
    secret = tmp_path / "secret"
    shutil.copy(data / "secret", secret)
    secret.chmod(0o600)
    return data, token, secret


async def api_call(world, method, path, body=None):
    """One request to ``world["url"]`` with ``world["token"]``: its status and JSON body."""
    headers = {"Authorization": [f"Bearer {world['token']}"]}
    response = await treq.request(method, world["url"] + path, json=body, headers=headers)
    return response.code, json.loads(await response.content() or b"null")


async def stop_all(*processes):
    """SIGTERM each process still running, and wait for it."""
    for process in processes:
        if not process.ended.called:
            await process.kill("TERM")


async def pause(seconds):
    """Let ``seconds`` pass on the reactor (between polls, never before an assertion)."""
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    await deferLater(reactor, seconds, lambda: None)


async def until(check, what, timeout):
    """
    Poll ``check`` (async; a true answer ends the wait) every 0.2 s until
    it answers, or fail naming ``what`` and its last answer after
    ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s; last seen: {answer!r}")
        await pause(0.2)
