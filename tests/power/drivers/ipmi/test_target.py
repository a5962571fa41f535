"""
BMCTarget: labels, keys and secrets.
"""

from __future__ import annotations

import pytest

from pserv.power.types.ipmi import SETTINGS
from pserv.power.drivers.ipmi.target import BMCTarget, endpoint, setting_error
from pserv.power.errors import PowerSettingsError


def _target(**changes: object) -> BMCTarget:
    params = SETTINGS.validate(
        {
            "address": "10.1.2.3",
            "username": "root",
            "password": "Pw-123456",
            "kg": "Kg-abcdef",
            **changes,
        }
    )
    return BMCTarget.from_params(params)


def test_label_names_address_and_port() -> None:
    """The label is "ipmi ADDRESS:PORT", with IPv6 literals bracketed."""
    assert _target().label == "ipmi 10.1.2.3:623"
    assert _target(address="fd00::7", port=6230).label == "ipmi [fd00::7]:6230"
    assert endpoint("bmc.example", 1623) == "bmc.example:1623"


def test_secrets_stay_out_of_repr_and_keys() -> None:
    """Neither repr nor the cache keys contain the password or Kg."""
    target = _target()
    for text in (repr(target), repr(target.session_key), repr(target.bmc_key)):
        assert "Pw-123456" not in text and "Kg-abcdef" not in text
    assert target.secrets == ("Pw-123456", "Kg-abcdef")


def test_session_key_separates_credentials() -> None:
    """A different password, user, privilege or backend needs another session; the BMC key stays."""
    base = _target()
    for other in (
        _target(password="Other"),
        _target(username="admin"),
        _target(privilege="operator"),
        _target(backend="python-ipmi", kg=None),
    ):
        assert other.session_key != base.session_key
        assert other.bmc_key == base.bmc_key
    assert _target().session_key == base.session_key


def test_privilege_levels_are_wire_values() -> None:
    """Privilege names map to IPMI's numbers: callback 1 ... admin 4."""
    assert [
        _target(privilege=p).privilege_level for p in ("callback", "user", "operator", "admin")
    ] == [1, 2, 3, 4]


def test_null_user_and_empty_password() -> None:
    """Unset username and password become empty strings; an unset Kg is None."""
    target = BMCTarget.from_params(SETTINGS.validate({"address": "10.1.2.3"}))
    assert (target.username, target.password, target.kg) == ("", "", None)
    assert target.secrets == ()


def test_setting_error_names_field() -> None:
    """setting_error builds a PowerSettingsError with the field set."""
    error = setting_error("kg", "not here")
    assert isinstance(error, PowerSettingsError) and error.field == "kg"
    assert str(error) == "kg: not here"
    with pytest.raises(PowerSettingsError):
        raise error
