"""
Classification of IPMI failures into fatal and transient power errors.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pserv.power.drivers.ipmi.errors import (
    COMPLETION_CODES,
    SCRUBBED,
    BMCAuthRejected,
    BMCBusy,
    BMCCompletionCode,
    BMCNoAnswer,
    BMCProtocolError,
    BMCRefused,
    BMCUnsupported,
    IPMIStateError,
    scrub,
    timed_out,
    to_power_error,
)
from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerFatalError,
    PowerTransientError,
    PowerUnsupportedError,
)

LABEL = "ipmi 10.0.0.9:623"


@pytest.mark.parametrize(
    "error, kind, fatal",
    [
        (BMCAuthRejected("Incorrect password provided"), PowerAuthError, True),
        (BMCNoAnswer("no answer"), PowerTransientError, False),
        (BMCRefused("connection refused"), PowerTransientError, False),
        (BMCBusy("no free session slot"), PowerTransientError, False),
        (BMCProtocolError("garbage"), PowerTransientError, False),
        (BMCUnsupported("No Cipher suite match"), PowerUnsupportedError, True),
        (BMCCompletionCode(0xD5), IPMIStateError, True),
        (BMCCompletionCode(0xD4), PowerAuthError, True),
        (BMCCompletionCode(0xC1), PowerUnsupportedError, True),
        (BMCCompletionCode(0xCC), PowerUnsupportedError, True),
        (BMCCompletionCode(0xD6), PowerUnsupportedError, True),
        (BMCCompletionCode(0xC0), PowerTransientError, False),
        (BMCCompletionCode(0xC3), PowerTransientError, False),
        (BMCCompletionCode(0xFF), PowerTransientError, False),
        (BMCCompletionCode(0xC9), PowerFatalError, True),
        (RuntimeError("boom"), PowerTransientError, False),
    ],
)
def test_classification(error: Exception, kind: type, fatal: bool) -> None:
    """Each failure maps to its power error class, fatal or transient, naming BMC and action."""
    result = to_power_error(LABEL, "power on", error)
    assert type(result) is kind and result.fatal is fatal
    assert str(result).startswith(f"{LABEL}: power on ")


def test_auth_message_says_what_failed() -> None:
    """An auth error says the credentials were rejected and why."""
    result = to_power_error(LABEL, "query", BMCAuthRejected("Incorrect password provided"))
    assert (
        str(result) == f"{LABEL}: query failed: credentials rejected: Incorrect password provided"
    )


def test_completion_code_message_names_code() -> None:
    """A completion code error names the code and its meaning."""
    result = to_power_error(LABEL, "soft off", BMCCompletionCode(0xD5))
    assert str(result) == (
        f"{LABEL}: soft off refused: command not supported in present state (completion code 0xD5)"
    )
    assert isinstance(result, IPMIStateError) and result.completion_code == 0xD5
    assert "unknown completion code (completion code 0x80)" in str(BMCCompletionCode(0x80))


def test_power_errors_pass_through() -> None:
    """An error already classified is returned unchanged."""
    original = PowerAuthError("already classified")
    assert to_power_error(LABEL, "query", original) is original


def test_timed_out_message() -> None:
    """A call timeout is transient and says "timed out after Ns"."""
    error = timed_out(LABEL, "query", 2.5)
    assert isinstance(error, PowerTransientError)
    assert str(error) == f"{LABEL}: query timed out after 2.5s"


def test_only_completion_codes_keep_sessions() -> None:
    """A completion code is an answer (session kept); every other failure drops the session."""
    assert BMCCompletionCode(0xC1).keeps_session
    for error in (BMCAuthRejected("x"), BMCNoAnswer("x"), BMCBusy("x"), BMCProtocolError("x")):
        assert not error.keeps_session


# Secrets without the characters of SCRUBBED, so a replacement cannot form one.
SECRETS = st.text(alphabet=string.ascii_uppercase + string.digits + "-_!", min_size=1, max_size=20)


@given(secret=SECRETS, before=st.text(max_size=20), after=st.text(max_size=20))
def test_scrub_removes_every_secret(secret: str, before: str, after: str) -> None:
    """scrub leaves no occurrence of a secret in any message."""
    text = scrub(before + secret + after + secret, (secret,))
    assert secret not in text and text.count(SCRUBBED) >= 2


def test_library_text_is_scrubbed() -> None:
    """A library message that echoes the password is scrubbed in the power error."""
    result = to_power_error(
        LABEL, "query", RuntimeError("bad password Pw-1234 given"), ("Pw-1234",)
    )
    assert "Pw-1234" not in str(result) and SCRUBBED in str(result)


def test_completion_code_table_covers_generic_codes() -> None:
    """Every generic completion code 0xC0-0xD6 and 0xFF has a description."""
    assert set(range(0xC0, 0xD7)) | {0xFF} <= set(COMPLETION_CODES)
    assert all(
        isinstance(to_power_error(LABEL, "q", BMCCompletionCode(c)), PowerError)
        for c in COMPLETION_CODES
    )
