"""
How long and how often an action waits for a BMC.
"""

from __future__ import annotations

from dataclasses import dataclass

from pserv.util.backoff import Backoff, exponential

VERIFY_BACKOFF: Backoff = exponential(0.5, 8.0)
"""Verification reads wait 0.5, 1, 2, 4, 8 s, then 8 s again."""


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """
    The timing of one driver's reads and commands.

    After a command, an action reads the power state, waiting
    ``backoff(0)``, then ``backoff(1)``, ... seconds between reads, until it
    sees the target state or ``deadline`` seconds have passed.  It never
    re-sends the command.  The same waits space the retries of a failed
    first read.

    :ivar backoff: the wait before read ``n`` (from zero), a
        :data:`~pserv.util.backoff.Backoff`.
    :ivar deadline: seconds after a command by which its effect must show.
    :ivar query_deadline: seconds a query, or the read that starts every
        action, keeps retrying transient read failures.
    :ivar read_timeout: seconds one read may take before it counts as a
        transient failure.
    :ivar command_timeout: seconds one command may take; a command that times
        out may still have reached the BMC, so the action verifies it.
    :ivar soft_off_timeout: seconds a graceful shutdown may take.
    :ivar cycle_delay: seconds a ``cycle`` waits between verified off and on.
    """

    backoff: Backoff = VERIFY_BACKOFF
    deadline: float = 60.0
    query_deadline: float = 20.0
    read_timeout: float = 10.0
    command_timeout: float = 30.0
    soft_off_timeout: float = 300.0
    cycle_delay: float = 0.0

    def __post_init__(self) -> None:
        if not self.backoff(0) > 0:
            raise ValueError("backoff must wait a positive number of seconds")
        for name in ("deadline", "query_deadline", "read_timeout", "command_timeout", "soft_off_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.cycle_delay < 0:
            raise ValueError("cycle_delay must not be negative")


DEFAULT_POLICY = VerifyPolicy()
