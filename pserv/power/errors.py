"""
The errors a power driver raises, classified as fatal or transient.

Fatal errors (bad credentials, an unsupported operation, bad settings) are
never retried: retrying cannot help, and on some BMCs it locks the account.
Transient errors (timeouts, a busy BMC, a refused connection) are retried
within the verification deadline.  Messages name the BMC or PDU and what
failed, never a password or community.
"""

from __future__ import annotations


class PowerError(Exception):
    """
    A power operation failed.
    """

    fatal: bool = False

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class PowerFatalError(PowerError):
    """
    A failure that retrying cannot fix.
    """

    fatal = True


class PowerAuthError(PowerFatalError):
    """
    The BMC or PDU refused our credentials.
    """


class PowerUnsupportedError(PowerFatalError):
    """
    The driver or the hardware cannot do what was asked.
    """


class PowerSettingsError(PowerFatalError):
    """
    The node's power settings are invalid.

    :ivar field: the name of the offending setting, if one is to blame.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PowerProtocolError(PowerFatalError):
    """
    The BMC or PDU answered with something the protocol does not allow, or
    a value the driver does not know: retrying would get the same answer.
    """


class PowerTransientError(PowerError):
    """
    A failure that may pass: a timeout, a busy BMC, a refused connection.
    """


class PowerVerifyError(PowerError):
    """
    A command was sent but the expected power state was not seen in time.

    :ivar expected: the state we waited for.
    :ivar last_seen: the last state read, or ``None`` if no read succeeded.
    :ivar waited: seconds spent verifying.
    :ivar reads: how many reads were made.
    """

    def __init__(
        self,
        expected: object,
        last_seen: object,
        waited: float,
        reads: int,
        last_error: BaseException | None = None,
    ) -> None:
        self.expected = expected
        self.last_seen = last_seen
        self.waited = waited
        self.reads = reads
        self.last_error = last_error
        seen = "nothing" if last_seen is None else _state_name(last_seen)
        message = (
            f"expected power {_state_name(expected)}, last saw {seen} "
            f"after {waited:g}s and {reads} read(s)"
        )
        if last_error is not None:
            message += f"; last error: {last_error}"
        super().__init__(message)


def _state_name(state: object) -> str:
    return str(getattr(state, "value", state))
