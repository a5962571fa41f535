"""
How the IPMI driver classifies what goes wrong.

A backend runs in a worker thread and raises the neutral :class:`BMCError`
subclasses below, whatever library it wraps.  :func:`to_power_error` turns
one into the :mod:`pserv.power.errors` class the actions act on: fatal
(never retried) or transient.  Every message names ``ipmi ADDRESS:PORT``
and what failed, and is scrubbed of the node's secrets.
"""

from __future__ import annotations

from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerFatalError,
    PowerTransientError,
    PowerUnsupportedError,
)

SCRUBBED = "<secret>"

COMPLETION_CODES: dict[int, str] = {
    0xC0: "node busy",
    0xC1: "invalid command",
    0xC2: "command invalid for given LUN",
    0xC3: "timeout while processing command",
    0xC4: "out of space",
    0xC5: "reservation cancelled or invalid",
    0xC6: "request data truncated",
    0xC7: "request data length invalid",
    0xC8: "request data field length limit exceeded",
    0xC9: "parameter out of range",
    0xCA: "cannot return number of requested data bytes",
    0xCB: "requested sensor, data or record not present",
    0xCC: "invalid data field in request",
    0xCD: "command illegal for specified sensor or record type",
    0xCE: "command response could not be provided",
    0xCF: "cannot execute duplicated request",
    0xD0: "SDR repository in update mode",
    0xD1: "device in firmware update mode",
    0xD2: "BMC initialization in progress",
    0xD3: "destination unavailable",
    0xD4: "insufficient privilege level",
    0xD5: "command not supported in present state",
    0xD6: "command sub-function disabled or unavailable",
    0xFF: "unspecified error",
}
"""The generic IPMI completion codes (IPMI 2.0, table 5-2)."""

TRANSIENT_CODES = frozenset({0xC0, 0xC3, 0xC4, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3, 0xFF})
"""Completion codes that say "not now": the BMC may accept a later try."""

UNSUPPORTED_CODES = frozenset({0xC1, 0xC2, 0xCC, 0xD6})
"""Completion codes that say this BMC does not do this command or option."""


class IPMIStateError(PowerFatalError):
    """
    The BMC refused a command in its present state (completion code 0xD5),
    e.g. a soft shutdown or a reset while the node is off.

    :ivar completion_code: the code the BMC returned.
    """

    def __init__(self, message: str, completion_code: int = 0xD5) -> None:
        super().__init__(message)
        self.completion_code = completion_code


class BMCError(Exception):
    """
    A backend's report of a failure, before classification.

    :cvar keeps_session: whether the session that saw it is still sound.
    """

    keeps_session = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BMCAuthRejected(BMCError):
    """The BMC refused the username, password, Kg or privilege."""


class BMCNoAnswer(BMCError):
    """The BMC did not answer in time."""


class BMCRefused(BMCError):
    """The network refused: nothing listens, or the name does not resolve."""


class BMCBusy(BMCError):
    """The BMC has no free session slot."""


class BMCUnsupported(BMCError):
    """The BMC cannot do what the settings ask, e.g. a cipher suite."""


class BMCProtocolError(BMCError):
    """The BMC answered something the backend could not make sense of."""


class BMCCompletionCode(BMCError):
    """
    The BMC answered a command with a non-zero completion code; the session
    itself is fine.
    """

    keeps_session = True

    def __init__(self, code: int) -> None:
        self.code = code
        name = COMPLETION_CODES.get(code, "unknown completion code")
        super().__init__(f"{name} (completion code 0x{code:02X})")


def to_power_error(
    label: str, what: str, error: BaseException, secrets: tuple[str, ...] = ()
) -> PowerError:
    """
    Classify ``error`` from an attempt to do ``what`` on the BMC ``label``.

    :param secrets: values that must not appear in the message.
    """
    if isinstance(error, PowerError):
        return error
    if isinstance(error, BMCCompletionCode):
        return _completion_error(label, what, error)
    reason = scrub(getattr(error, "reason", None) or _describe(error), secrets)
    if isinstance(error, BMCAuthRejected):
        return PowerAuthError(f"{label}: {what} failed: credentials rejected: {reason}")
    if isinstance(error, BMCNoAnswer):
        return PowerTransientError(f"{label}: {what} timed out: {reason}")
    if isinstance(error, BMCUnsupported):
        return PowerUnsupportedError(f"{label}: {what} failed: {reason}")
    return PowerTransientError(f"{label}: {what} failed: {reason}")


def timed_out(label: str, what: str, seconds: float) -> PowerTransientError:
    """
    The error for a call that got no answer within ``seconds``.
    """
    return PowerTransientError(f"{label}: {what} timed out after {seconds:g}s")


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """
    ``text`` with every occurrence of a secret replaced.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, SCRUBBED)
    return text


def _completion_error(label: str, what: str, error: BMCCompletionCode) -> PowerError:
    message = f"{label}: {what} refused: {error.reason}"
    code = error.code
    if code == 0xD5:
        return IPMIStateError(message, code)
    if code == 0xD4:
        return PowerAuthError(message)
    if code in UNSUPPORTED_CODES:
        return PowerUnsupportedError(message)
    if code in TRANSIENT_CODES:
        return PowerTransientError(message)
    return PowerFatalError(message)


def _describe(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    return f"{name}: {text}" if text else name
