"""
What every pserv command shares: one-line usage errors, and running a
coroutine on the reactor with its exit status.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Coroutine, NoReturn, Sequence

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """
    An ArgumentParser whose errors are one line on stderr and exit 2.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def run_on_reactor(main: Callable[[Any], Coroutine[Any, Any, int]]) -> int:
    """
    Run ``main(reactor)`` on the global reactor until it returns an exit
    status, and return that status.
    """
    from twisted.internet.defer import Deferred
    from twisted.internet.task import react

    status: list[int] = []

    def start(reactor: Any) -> Deferred[None]:
        return Deferred.fromCoroutine(main(reactor)).addCallback(status.append)

    try:
        react(start)
    except SystemExit as e:
        if not status:
            return e.code if isinstance(e.code, int) else 1
    return status[0]


async def when_running(reactor: Any) -> None:
    """
    Wait for the reactor to run.  ``react`` starts a daemon's main before
    ``reactor.run`` installs the SIGTERM handler; a daemon tells systemd it
    is ready only after that, so that a stop right after is a clean one.
    """
    from twisted.internet.defer import Deferred

    running: Deferred[None] = Deferred()
    reactor.callWhenRunning(running.callback, None)
    await running


def log_reactor(reactor: Any) -> None:
    """
    Log which reactor a daemon runs on, as ``twistd`` does: each daemon
    chooses its own (the region Twisted's default, the cluster asyncio).
    """
    from twisted.logger import Logger
    from twisted.python.reflect import qual

    Logger().info("reactor class: {name}", name=qual(type(reactor)))


class UsageError(Exception):
    """Bad input on the command line: exit 2 with this one-line message."""


def parse_settings(pairs: Sequence[str]) -> dict[str, str]:
    """
    ``["key=value", ...]`` (repeated ``--set``) as a dict; a value may hold
    ``=``.

    :raises UsageError: for an item without ``=`` or a repeated key.
    """
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {key or pair}: expected key=value")
        if key in settings:
            raise UsageError(f"--set {key}: given twice")
        settings[key] = value
    return settings


GC_THRESHOLDS = (10_000, 50, 100)
"""
The daemons' garbage-collector thresholds.  With thousands of actions in
flight, Python's default (700, 10, 10) spends half the CPU walking live
objects; these doubled the registry's throughput in bench/registry.py.
"""


def tune_gc() -> None:
    """Set :data:`GC_THRESHOLDS`, for a long-running daemon."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)
