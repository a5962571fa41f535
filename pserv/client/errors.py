"""
What can go wrong in a client command, as exceptions the runner turns into
one line on stderr and an exit status.
"""

from __future__ import annotations


from pserv.scripts.support import UsageError

__all__ = ["UsageError", "ConfigError", "UnreachableError", "ClientError", "is_transient"]


class ConfigError(Exception):
    """
    No usable login (nothing stored, or an unreadable file): exit 1.
    """


class UnreachableError(Exception):
    """
    No HTTP answer from the region (refused, no such host, timed out): exit 1.
    """


class ClientError(Exception):
    """
    The region answered with an error status.

    :ivar status: the HTTP status.
    :ivar error: what is wrong, in one sentence (the body's ``error``).
    :ivar field: the field to blame, when the body names one.
    """

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(status, error, field)
        self.status = status
        self.error = error
        self.field = field

    def __str__(self) -> str:
        if not self.field or self.error.startswith(f"{self.field}:"):
            return self.error
        return f"{self.field}: {self.error}"


def is_transient(error: Exception) -> bool:
    """
    Whether a poll that failed this way is worth trying again: no answer,
    or a server error (5xx) while the region restarts.
    """
    if isinstance(error, UnreachableError):
        return True
    return isinstance(error, ClientError) and error.status >= 500
