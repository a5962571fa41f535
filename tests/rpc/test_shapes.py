"""
Tests for pserv.rpc.shapes.
"""

import pytest

from pserv.rpc.common import InvalidRequest
from pserv.rpc.shapes import (
    OBSERVED_STATE, OUTCOME, POWER_REQUEST, RECOVERY_NODE, check_observed_state, check_outcome,
    check_power_request, check_recovery_node,
)

from pserv.testing.rpc import observed, outcome, power_request, recovery_node

CASES = [
    (check_recovery_node, recovery_node(4, actions=2), RECOVERY_NODE),
    (check_power_request, power_request(), POWER_REQUEST),
    (check_outcome, outcome(), OUTCOME),
    (check_observed_state, observed(1, error="timed out"), OBSERVED_STATE),
]


@pytest.mark.parametrize("check, sample, shape", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_samples_pass_unchanged(check, sample, shape):
    """Each documented sample passes and comes back unchanged."""
    assert check(sample) is sample


@pytest.mark.parametrize("check, sample, shape", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_every_field_is_required(check, sample, shape):
    """Leaving out any field is refused, naming it."""
    for field in shape:
        with pytest.raises(InvalidRequest, match=f"{field} is missing"):
            check({k: v for k, v in sample.items() if k != field})


@pytest.mark.parametrize("check, sample, shape", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_a_wrong_type_is_refused(check, sample, shape):
    """A field of the wrong type (an object where anything else goes) is refused, naming it."""
    for field in shape:
        wrong = [] if isinstance(sample[field], dict) else {"x": 1}
        with pytest.raises(InvalidRequest, match=f"{field} is not valid"):
            check({**sample, field: wrong})


def test_a_boolean_is_not_an_integer():
    """True is refused where an id is expected."""
    with pytest.raises(InvalidRequest, match="action"):
        check_outcome({**outcome(), "action": True})


def test_not_an_object():
    """A list is refused where an object is expected."""
    with pytest.raises(InvalidRequest, match="must be an object"):
        check_power_request([1])


def test_recovery_actions_are_checked():
    """A recovery entry's actions are checked too, naming the node."""
    node = recovery_node(4)
    node["actions"][0]["status"] = "done"
    with pytest.raises(InvalidRequest, match="node 4: action: status"):
        check_recovery_node(node)


def test_observed_at_must_be_iso_8601():
    """observed_at must parse as ISO 8601."""
    with pytest.raises(InvalidRequest, match="observed_at"):
        check_observed_state({**observed(1), "observed_at": "yesterday"})


def test_outcome_observed_at_optional_but_checked():
    """An outcome may leave out observed_at (older clusters), but one given must be ISO 8601."""
    assert check_outcome(outcome())
    with pytest.raises(InvalidRequest, match="observed_at"):
        check_outcome({**outcome(), "observed_at": "yesterday"})


def test_extra_keys_pass():
    """Keys a shape does not name are let through, for newer peers."""
    assert check_outcome({**outcome(), "duration": 3.5})["duration"] == 3.5


@pytest.mark.parametrize("state", ["on", "off", "unknown", "error", None])
def test_outcome_power_states(state):
    """An outcome's power_state is a power state or null."""
    assert check_outcome({**outcome(), "power_state": state})


def test_outcome_json_from_the_registry():
    """A registry Outcome becomes a valid ReportOutcome shape."""
    from pserv.power.outcome import Outcome, OutcomeStatus
    from pserv.power.states import ActionKind, PowerState
    from pserv.rpc.shapes import outcome_json

    done = Outcome(OutcomeStatus.DONE, 7, ActionKind.CYCLE, 4, PowerState.ON, commands=("power_off", "power_on"))
    assert check_outcome(outcome_json(1, done)) == {**outcome(), "observed_at": None}
    read = Outcome(OutcomeStatus.DONE, 7, ActionKind.ON, 4, PowerState.ON, observed_at=1800000000.25)
    assert check_outcome(outcome_json(1, read))["observed_at"] == "2027-01-15T08:00:00.250Z"
    failed = Outcome(OutcomeStatus.FAILED, 8, ActionKind.ON, 2, error="expected power on", fatal=True)
    assert check_outcome(outcome_json(1, failed))["power_state"] is None
