"""
Tests for pserv.power.types.bmc_limits: the per-BMC limits as settings of
every power type that talks to a BMC.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import REDACTED
from pserv.power.types import POWER_TYPES
from pserv.power.types.bmc_limits import BMC_LIMITS, MAX_CONCURRENT, MIN_COMMAND_INTERVAL, SHARED
from pserv.testing.fake_driver import FAKE

VALID = {
    "ipmi": {"address": "10.0.0.5", "password": "secret"},
    "redfish": {"address": "https://bmc-1", "password": "secret"},
    "snmp_pdu": {"address": "pdu-1", "outlet": 3, "community": "secret"},
    "fake": {"address": "chassis-1", "password": "secret"},
}
TYPES = {**{name: POWER_TYPES[name] for name in ("ipmi", "redfish", "snmp_pdu")}, "fake": FAKE}


def refused(name, **settings):
    with pytest.raises(PowerSettingsError) as caught:
        TYPES[name].validate({**VALID[name], **settings})
    return caught.value.field, str(caught.value)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_bmc_type_lists_both_limits_last(name):
    """IPMI, Redfish, SNMP PDU and fake end their schemas with the two limits; Wake-on-LAN and manual have none."""
    assert [s.name for s in TYPES[name].settings][-2:] == [MIN_COMMAND_INTERVAL, MAX_CONCURRENT]
    assert MIN_COMMAND_INTERVAL not in [s.name for s in POWER_TYPES["wol"].settings]
    assert MAX_CONCURRENT not in [s.name for s in POWER_TYPES["manual"].settings]


@pytest.mark.parametrize("name", sorted(TYPES))
def test_limits_default_to_none_and_are_converted(name):
    """Left out they are None (no extra limit); given as form text they become a number and an integer."""
    cleaned = TYPES[name].validate(VALID[name])
    assert (cleaned[MIN_COMMAND_INTERVAL], cleaned[MAX_CONCURRENT]) == (None, None)
    cleaned = TYPES[name].validate({**VALID[name], MIN_COMMAND_INTERVAL: "0.5", MAX_CONCURRENT: "2"})
    assert (cleaned[MIN_COMMAND_INTERVAL], cleaned[MAX_CONCURRENT]) == (0.5, 2)


@pytest.mark.parametrize("value, reason", [(-1, "must be at least 0"), ("soon", "must be a number"),
                                           (float("nan"), "must be a number"), (float("inf"), "must be a number"),
                                           (601, "must be at most 600"), (True, "must be a number")])
def test_bad_interval_names_the_field(value, reason):
    """A bad min_command_interval is refused naming the field, in the existing style."""
    assert refused("ipmi", min_command_interval=value) == (MIN_COMMAND_INTERVAL, f"{MIN_COMMAND_INTERVAL}: {reason}")


@pytest.mark.parametrize("value, reason", [(0, "must be at least 1"), (-3, "must be at least 1"),
                                           (1.5, "must be an integer"), ("many", "must be an integer")])
def test_bad_concurrency_names_the_field(value, reason):
    """max_concurrent 0 (or not a whole number) is refused naming the field."""
    assert refused("snmp_pdu", max_concurrent=value) == (MAX_CONCURRENT, f"{MAX_CONCURRENT}: {reason}")


def test_redaction_untouched():
    """The limits are not secret: redaction shows them and still hides the password."""
    assert not any(s.secret for s in BMC_LIMITS)
    schema = POWER_TYPES["redfish"].settings
    redacted = schema.redact({**VALID["redfish"], MIN_COMMAND_INTERVAL: 2.0, MAX_CONCURRENT: 1})
    assert redacted == {"address": "https://bmc-1", "password": REDACTED, MIN_COMMAND_INTERVAL: 2.0, MAX_CONCURRENT: 1}


def test_forms_say_the_limit_is_shared():
    """Each limit's help, shown in the generated forms, says every node naming the BMC shares it."""
    described = {d["name"]: d for d in POWER_TYPES["ipmi"].describe()["settings"]}
    assert all(SHARED in described[name]["help"] for name in (MIN_COMMAND_INTERVAL, MAX_CONCURRENT))
    assert (described[MIN_COMMAND_INTERVAL]["minimum"], described[MAX_CONCURRENT]["minimum"]) == (0, 1)
