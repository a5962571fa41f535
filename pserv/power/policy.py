"""
How long and how often an action waits for a BMC.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """
    The timing of one driver's reads and commands.

    After a command, an action reads the power state, waiting ``delays[0]``,
    then ``delays[1]``, ... between reads (the last delay repeats), until it
    sees the target state or ``deadline`` seconds have passed.  It never
    re-sends the command.

    :ivar delays: seconds to wait between verification reads.
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

    delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    deadline: float = 60.0
    query_deadline: float = 20.0
    read_timeout: float = 10.0
    command_timeout: float = 30.0
    soft_off_timeout: float = 300.0
    cycle_delay: float = 0.0

    def __post_init__(self) -> None:
        if not self.delays or any(d <= 0 for d in self.delays):
            raise ValueError("delays must be a non-empty list of positive seconds")
        for name in ("deadline", "query_deadline", "read_timeout", "command_timeout", "soft_off_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.cycle_delay < 0:
            raise ValueError("cycle_delay must not be negative")

    def delay(self, attempt: int) -> float:
        """
        The wait before read number ``attempt + 1`` (counting from zero).
        """
        return self.delays[min(attempt, len(self.delays) - 1)]


DEFAULT_POLICY = VerifyPolicy()
