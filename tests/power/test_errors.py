"""
Tests for pserv.power.errors.
"""

from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerProtocolError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
    PowerVerifyError,
)
from pserv.power.states import PowerState


def test_fatal_and_transient():
    """Auth, unsupported, protocol and settings errors are fatal; transient ones are not."""
    assert PowerAuthError("x").fatal and PowerUnsupportedError("x").fatal
    assert PowerProtocolError("x").fatal
    assert PowerSettingsError("x", field="port").fatal
    assert not PowerTransientError("x").fatal and not PowerError("x").fatal


def test_verify_error_says_what_and_how_long():
    """A verification failure says what was expected, what was seen, how long and why."""
    error = PowerVerifyError(PowerState.ON, PowerState.OFF, 60.0, 11, PowerTransientError("busy"))
    assert str(error) == "expected power on, last saw off after 60s and 11 read(s); last error: busy"
    assert str(PowerVerifyError(PowerState.OFF, None, 5, 2)) == "expected power off, last saw nothing after 5s and 2 read(s)"


def test_settings_error_names_field():
    """A settings error carries the field it blames."""
    assert PowerSettingsError("port: must be an integer", field="port").field == "port"
