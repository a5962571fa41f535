"""
Tests for pserv.rpc.wire: the one conversion of messages to and from the
wire, and the check a message gets as it is deserialised.
"""

from datetime import datetime, timezone

import attrs
import pytest

from pserv.power.states import ActionStatus, PowerState
from pserv.rpc.common import InvalidRequest
from pserv.rpc.messages import MESSAGES, ObservedState, OutcomeReport, PowerRequest, RecoveryNode
from pserv.rpc.wire import field_types, structure, unstructure

from pserv.testing.rpc import observed, outcome, power_request, recovery_node

SAMPLES = [recovery_node(4, actions=2), power_request(), outcome(), observed(1, error="timed out")]


def required(cls):
    """The fields of ``cls`` a message must carry."""
    return [field.name for field in attrs.fields(cls) if field.default is attrs.NOTHING]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_samples_round_trip(sample):
    """Each sample comes back equal from its wire form."""
    assert structure(unstructure(sample), type(sample), "it") == sample


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_field_is_required(sample):
    """Leaving out any field without a default is refused, naming it."""
    data = unstructure(sample)
    for field in required(type(sample)):
        with pytest.raises(InvalidRequest, match=f"{field} is missing"):
            structure({k: v for k, v in data.items() if k != field}, type(sample), "it")


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_a_wrong_type_is_refused(sample):
    """A field of the wrong type (an object where anything else goes) is refused, naming it."""
    data = unstructure(sample)
    for field in data:
        wrong = [] if isinstance(data[field], dict) else {"x": 1}
        with pytest.raises(InvalidRequest, match=f"{field} is not valid"):
            structure({**data, field: wrong}, type(sample), "it")


def test_a_boolean_is_not_an_integer():
    """True is refused where an id is expected."""
    with pytest.raises(InvalidRequest, match="outcome: action is not valid"):
        structure({**unstructure(outcome()), "action": True}, OutcomeReport, "outcome")


@pytest.mark.parametrize("field, value", [("action", "7"), ("name", 7), ("kind", 1), ("kind", "warp")])
def test_nothing_is_coerced(field, value):
    """A number as text, text as a number, or a kind not in ActionKind is refused, naming the field."""
    with pytest.raises(InvalidRequest, match=f"request: {field} is not valid"):
        structure({**unstructure(power_request()), field: value}, PowerRequest, "request")


@pytest.mark.parametrize("value", ["30", True, [30]])
def test_a_number_is_exactly_a_number(value):
    """escalate_after takes an int or a float, never text or a boolean."""
    assert structure({**unstructure(power_request()), "escalate_after": 30}, PowerRequest, "r").escalate_after == 30.0
    with pytest.raises(InvalidRequest, match="request: escalate_after is not valid"):
        structure({**unstructure(power_request()), "escalate_after": value}, PowerRequest, "request")


def test_a_request_from_a_region_before_escalate_after_never_escalates():
    """A PowerRequest without escalate_after (an older region of the same protocol) is one that never escalates."""
    data = {k: v for k, v in unstructure(power_request()).items() if k != "escalate_after"}
    assert structure(data, PowerRequest, "request").escalate_after is None


def test_not_an_object():
    """A list is refused where an object is expected."""
    with pytest.raises(InvalidRequest, match="request: must be an object"):
        structure([1], PowerRequest, "request")


def test_recovery_actions_are_checked():
    """A recovery entry's actions are checked too, naming the action's place."""
    node = unstructure(recovery_node(4))
    node["actions"][0]["status"] = "done"
    with pytest.raises(InvalidRequest, match=r"node: actions\[0\]\.status is not valid"):
        structure(node, RecoveryNode, "node")


def test_a_list_of_messages_names_the_item():
    """A bad item of a list of messages is refused, naming its index and field."""
    states = unstructure((observed(1), observed(2)))
    states[1]["power_state"] = "unknown"
    with pytest.raises(InvalidRequest, match=r"states: \[1\]\.power_state is not valid"):
        structure(states, tuple[ObservedState, ...], "states")
    with pytest.raises(InvalidRequest, match="states: expected a list"):
        structure({"node": 1}, tuple[ObservedState, ...], "states")


def test_observed_at_must_be_iso_8601():
    """observed_at must parse as ISO 8601."""
    with pytest.raises(InvalidRequest, match="observed_at"):
        structure({**unstructure(observed(1)), "observed_at": "yesterday"}, ObservedState, "state")


def test_outcome_observed_at_optional_but_checked():
    """An outcome may leave out observed_at (older clusters), but one given must be ISO 8601."""
    data = unstructure(outcome())
    del data["observed_at"]
    assert structure(data, OutcomeReport, "outcome").observed_at is None
    with pytest.raises(InvalidRequest, match="observed_at"):
        structure({**data, "observed_at": "yesterday"}, OutcomeReport, "outcome")


def test_extra_keys_are_ignored():
    """Keys a class does not name are accepted and ignored, for newer peers of the same version."""
    assert structure({**unstructure(outcome()), "duration": 3.5}, OutcomeReport, "outcome") == outcome()


@pytest.mark.parametrize("state", ["on", "off", "unknown", "error", None])
def test_outcome_power_states(state):
    """An outcome's power_state is a power state or null."""
    expected = None if state is None else PowerState(state)
    assert structure({**unstructure(outcome()), "power_state": state}, OutcomeReport, "outcome").power_state == expected


def test_enums_and_times_travel_as_plain_values():
    """Enums go as their values, tuples as lists, times as UTC ISO 8601 with milliseconds and Z."""
    data = unstructure(attrs.evolve(outcome(), observed_at=datetime(2027, 1, 15, 9, 0, 0, 250000,
                                                                    tzinfo=timezone.utc)))
    assert data["status"] == "done" and type(data["status"]) is str
    assert data["commands"] == ["power_off", "power_on"]
    assert data["observed_at"] == "2027-01-15T09:00:00.250Z"


def test_times_with_an_offset_or_none_are_utc():
    """A time with another UTC offset is read as UTC; one without an offset is taken to be UTC."""
    data = unstructure(observed(1))
    shifted = structure({**data, "observed_at": "2026-05-01T14:00:00+02:00"}, ObservedState, "state")
    naive = structure({**data, "observed_at": "2026-05-01T12:00:00"}, ObservedState, "state")
    assert shifted == naive == observed(1)


def test_a_status_outside_its_group_is_refused():
    """An outcome's status must be final: an outstanding one is refused."""
    with pytest.raises(InvalidRequest, match="outcome: status is not valid"):
        structure({**unstructure(outcome()), "status": ActionStatus.RUNNING.value}, OutcomeReport, "outcome")


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_field_types_name_every_field(cls):
    """field_types describes every field of every message, in order."""
    assert [name for name, _ in field_types(cls)] == [field.name for field in attrs.fields(cls)]


def test_field_types_text():
    """field_types writes enums as their values, optional and nullable fields, and lists of messages."""
    types = dict(field_types(OutcomeReport))
    assert types["status"] == '"done" \\| "failed" \\| "superseded" \\| "cancelled"'
    assert types["superseded_by"] == "int or null"
    assert types["observed_at"] == "str (ISO 8601) or null, optional"
    assert dict(field_types(RecoveryNode))["actions"] == "list of `RecoveryAction`"
