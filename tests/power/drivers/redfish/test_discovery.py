"""
Tests for pserv.power.drivers.redfish.discovery: the system, its reset
action, the reset type sent and the power state read.
"""

from __future__ import annotations

import json

import pytest
import pytest_twisted

from pserv.power.drivers.redfish.driver import RedfishDriver
from pserv.power.drivers.redfish.discovery import (
    SystemInfo,
    choose_reset_type,
    member_paths,
    pick_system,
    power_state,
    reset_info,
)
from pserv.power.drivers.redfish.errors import RedfishProtocolError
from pserv.power.errors import PowerSettingsError, PowerTransientError, PowerUnsupportedError
from pserv.power.states import PowerState
from pserv.testing.emulators.redfish_stub import (  # noqa: F401
    Answer,
    redfish_tree,
    reset_path,
    stub_bmc,
    system_document,
)
from pserv.util.backoff import exponential

LABEL = "redfish bmc"
MEMBERS = ["/redfish/v1/Systems/1", "/redfish/v1/Systems/blade%202"]


def info(allowed: list[str] | None) -> SystemInfo:
    return SystemInfo("/s", "/s/reset", None if allowed is None else frozenset(allowed))


def test_the_only_system_needs_no_system_id() -> None:
    """One member and no system_id picks that member."""
    assert pick_system(MEMBERS[:1], None, LABEL) == MEMBERS[0]


def test_several_systems_without_system_id_name_the_field() -> None:
    """Several members and no system_id is a settings error naming system_id and listing ids."""
    with pytest.raises(PowerSettingsError) as raised:
        pick_system(MEMBERS, None, LABEL)
    assert raised.value.field == "system_id"
    assert "2 systems (1, blade 2)" in str(raised.value)


def test_no_system_at_all_is_a_settings_error() -> None:
    """A BMC listing no ComputerSystem is a settings error on the address."""
    with pytest.raises(PowerSettingsError) as raised:
        pick_system([], None, LABEL)
    assert raised.value.field == "address"


@pytest.mark.parametrize(
    "system_id, expected",
    [("1", MEMBERS[0]), ("blade 2", MEMBERS[1]), ("missing", None),
     ("/redfish/v1/Systems/other", "/redfish/v1/Systems/other")],
)
def test_system_id_matches_the_last_segment_or_is_a_path(system_id: str, expected: str | None) -> None:
    """system_id matches a member's (unquoted) Id, is used as a path, or matches nothing (None)."""
    assert pick_system(MEMBERS, system_id, LABEL) == expected


def test_members_must_be_a_list() -> None:
    """A collection without a Members list is a protocol error."""
    with pytest.raises(RedfishProtocolError):
        member_paths({"Members": "nope"}, "GET /redfish/v1/Systems")


def test_reset_info_reads_target_and_allowed_values() -> None:
    """The reset target (even an absolute URL) and its AllowableValues are read."""
    document = system_document("1", "On", ["On", "ForceOff"])
    document["Actions"]["#ComputerSystem.Reset"]["target"] = "https://bmc:443" + reset_path("1")
    found = reset_info("/redfish/v1/Systems/1", document, LABEL)
    assert found == SystemInfo("/redfish/v1/Systems/1", reset_path("1"), frozenset({"On", "ForceOff"}))


def test_a_system_without_reset_is_unsupported() -> None:
    """No ComputerSystem.Reset action means power cannot be switched: unsupported."""
    with pytest.raises(PowerUnsupportedError):
        reset_info("/s", {"Actions": {}}, LABEL)
    with pytest.raises(RedfishProtocolError):
        reset_info("/s", {"Actions": {"#ComputerSystem.Reset": {}}}, LABEL)


@pytest.mark.parametrize(
    "wanted, allowed, chosen",
    [("On", None, "On"), ("On", ["On", "ForceOff"], "On"), ("On", ["ForceOn", "ForceOff"], "ForceOn"),
     ("ForceOff", ["ForceOff"], "ForceOff"), ("GracefulShutdown", [], "GracefulShutdown")],
)
def test_reset_type_is_the_wanted_one_or_a_safe_stand_in(wanted, allowed, chosen) -> None:
    """The wanted type is sent when allowed or unknown; On may become ForceOn."""
    assert choose_reset_type(wanted, info(allowed), LABEL) == chosen


@pytest.mark.parametrize(
    "wanted, allowed",
    [("ForceOff", ["On", "ForceRestart", "PushPowerButton"]),
     ("GracefulShutdown", ["On", "ForceOff"]),
     ("On", ["ForceOff", "PushPowerButton", "ForceRestart"])],
)
def test_no_unsafe_stand_in_is_ever_chosen(wanted, allowed) -> None:
    """ForceRestart, PushPowerButton or ForceOff never stand in: unsupported instead."""
    with pytest.raises(PowerUnsupportedError, match=f"does not allow reset type {wanted}"):
        choose_reset_type(wanted, info(allowed), LABEL)


@pytest.mark.parametrize(
    "value, state",
    [("On", PowerState.ON), ("Off", PowerState.OFF), ("PoweringOn", PowerState.OFF),
     ("PoweringOff", PowerState.ON), ("Paused", PowerState.ON)],
)
def test_power_states_map_to_on_and_off(value: str, state: PowerState) -> None:
    """Each Redfish PowerState maps to ON or OFF; transitions count as not there yet."""
    assert power_state({"PowerState": value}, LABEL) is state


def test_a_missing_power_state_is_transient_and_an_unknown_one_is_not() -> None:
    """No PowerState (a BMC still starting) is transient; a made-up one is a protocol error."""
    with pytest.raises(PowerTransientError):
        power_state({}, LABEL)
    with pytest.raises(RedfishProtocolError, match="Sideways"):
        power_state({"PowerState": "Sideways"}, LABEL)


@pytest_twisted.async_yield_fixture
async def driver():
    driver = RedfishDriver(request_timeout=5.0, retry_backoff=exponential(0.01, 0.01), retries=1)
    yield driver
    await driver.close()


@pytest_twisted.ensureDeferred
async def test_power_on_sends_force_on_when_on_is_not_allowed(stub_bmc, driver) -> None:
    """A BMC allowing ForceOn but not On gets ForceOn for power_on."""
    redfish_tree(stub_bmc.stub, allowed=["ForceOn", "ForceOff"])
    await driver.power_on({"address": stub_bmc.address})
    posted = [s for s in stub_bmc.stub.seen if s.method == "POST"]
    assert [json.loads(p.body) for p in posted] == [{"ResetType": "ForceOn"}]


@pytest_twisted.ensureDeferred
async def test_a_disallowed_reset_sends_nothing(stub_bmc, driver) -> None:
    """power_off on a BMC that offers no ForceOff fails unsupported without any POST."""
    redfish_tree(stub_bmc.stub, allowed=["On", "ForceRestart", "PushPowerButton"])
    with pytest.raises(PowerUnsupportedError):
        await driver.power_off({"address": stub_bmc.address})
    assert stub_bmc.stub.count("POST", reset_path("1")) == 0


@pytest_twisted.ensureDeferred
async def test_allowed_values_are_read_from_action_info(stub_bmc, driver) -> None:
    """With no inline AllowableValues, the @Redfish.ActionInfo resource supplies them."""
    redfish_tree(stub_bmc.stub)
    document = system_document("1", "On")
    document["Actions"]["#ComputerSystem.Reset"]["@Redfish.ActionInfo"] = "/redfish/v1/Systems/1/ResetInfo"
    stub_bmc.stub.on("GET", "/redfish/v1/Systems/1", Answer(200, document))
    stub_bmc.stub.on("GET", "/redfish/v1/Systems/1/ResetInfo", Answer(200, {"Parameters": [
        {"Name": "ResetType", "AllowableValues": ["On", "ForceOff"]}]}))
    with pytest.raises(PowerUnsupportedError, match="GracefulShutdown"):
        await driver.soft_off({"address": stub_bmc.address})
    assert stub_bmc.stub.count("POST", reset_path("1")) == 0
