"""
Tests for pserv.power.drivers.redfish.errors: statuses to power errors.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from pserv.power.drivers.redfish.errors import (
    MAX_MESSAGE,
    RedfishProtocolError,
    bmc_message,
    clean_text,
    error_for_status,
)
from pserv.power.errors import (
    PowerAuthError,
    PowerFatalError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)

WHAT = "redfish 10.0.0.9: POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset"


def redfish_error(message: str | None = None, *infos: dict) -> bytes:
    error: dict = {"code": "Base.1.0.GeneralError", "@Message.ExtendedInfo": list(infos)}
    if message is not None:
        error["message"] = message
    return json.dumps({"error": error}).encode()


def test_bmc_message_joins_message_and_extended_info() -> None:
    """The BMC's message and each ExtendedInfo Message are joined, without repeats."""
    body = redfish_error("A general error.", {"Message": "ResetType Bogus is invalid."},
                         {"Message": "A general error."})
    assert bmc_message(body) == "A general error.; ResetType Bogus is invalid."


def test_bmc_message_falls_back_to_message_ids() -> None:
    """With no text at all, the MessageIds stand in."""
    body = redfish_error(None, {"MessageId": "Base.1.8.ActionParameterUnknown"})
    assert bmc_message(body) == "Base.1.8.ActionParameterUnknown"


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b"[1, 2]", b'{"error": "flat"}', b"\xff\xfe"])
def test_bmc_message_of_a_non_redfish_body_is_empty(body: bytes) -> None:
    """A body that is not a Redfish error yields no message rather than an exception."""
    assert bmc_message(body) == ""


@pytest.mark.parametrize(
    "code, kind",
    [
        (400, PowerFatalError),
        (401, PowerAuthError),
        (403, PowerAuthError),
        (404, PowerSettingsError),
        (405, PowerUnsupportedError),
        (409, PowerTransientError),
        (412, PowerFatalError),
        (429, PowerTransientError),
        (500, PowerTransientError),
        (501, PowerUnsupportedError),
        (503, PowerTransientError),
        (504, PowerTransientError),
        (302, RedfishProtocolError),
        (101, RedfishProtocolError),
    ],
)
def test_statuses_are_classified(code: int, kind: type) -> None:
    """Each status maps to its documented error class, fatal or transient."""
    error = error_for_status(WHAT, code, "Phrase", b"")
    assert type(error) is kind
    assert str(error).startswith(f"{WHAT}: HTTP {code}")


def test_auth_errors_are_fatal_and_transient_ones_are_not() -> None:
    """401 is fatal (never retried); 503 is not."""
    assert error_for_status(WHAT, 401, "Unauthorized", b"").fatal
    assert not error_for_status(WHAT, 503, "Busy", b"").fatal


def test_a_400_carries_the_bmcs_message() -> None:
    """A 400 is fatal and says what the BMC said in ExtendedInfo."""
    body = redfish_error("Bad request", {"Message": "The value 'Bogus' for ResetType is not valid."})
    error = error_for_status(WHAT, 400, "Bad Request", body)
    assert type(error) is PowerFatalError
    assert "The value 'Bogus' for ResetType is not valid." in str(error)


def test_a_400_refusing_the_reset_value_is_unsupported() -> None:
    """A 400 whose MessageId says the value is not allowed is PowerUnsupportedError."""
    body = redfish_error(None, {"MessageId": "Base.1.8.ActionParameterNotSupported",
                                "Message": "ResetType Nmi is not supported."})
    assert isinstance(error_for_status(WHAT, 400, "Bad Request", body), PowerUnsupportedError)


def test_a_404_names_the_given_field() -> None:
    """A 404 is a settings error naming the field that led there."""
    error = error_for_status(WHAT, 404, "Not Found", b"", not_found_field="system_id")
    assert isinstance(error, PowerSettingsError) and error.field == "system_id"


def test_secrets_the_bmc_echoes_are_scrubbed() -> None:
    """A password or token echoed by the BMC never reaches the message."""
    body = redfish_error("login hunter2 failed for token abc123token")
    error = error_for_status(WHAT, 400, "Bad Request", body, secrets=["hunter2", "abc123token", None])
    assert "hunter2" not in str(error) and "abc123token" not in str(error)


def test_long_and_control_text_is_tamed() -> None:
    """BMC text is cut to MAX_MESSAGE characters with control characters removed."""
    text = clean_text("line\r\nbreak\x1b[31m" + "x" * 1000)
    assert len(text) == MAX_MESSAGE and text.endswith("...")
    assert "\r" not in text and "\n" not in text and "\x1b" not in text


@given(st.text(), st.lists(st.text(min_size=1), min_size=1, max_size=3))
def test_no_secret_survives_cleaning(text: str, secrets: list[str]) -> None:
    """Whatever the text, no secret appears in the cleaned text."""
    mixed = secrets[0].join([text, text[:3], ""]) + "".join(secrets)
    cleaned = clean_text(mixed, secrets)
    assert not any(secret in cleaned for secret in secrets)
