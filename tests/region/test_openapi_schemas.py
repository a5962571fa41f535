"""
Tests for pserv.region.openapi_schemas: the enums are the power vocabulary.
"""

from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.region.openapi import document
from pserv.region.openapi_schemas import (
    ACTION_KINDS,
    ACTION_STATUSES,
    POWER_STATES,
    SCHEMAS,
)


def test_enums_are_the_vocabulary_in_its_order():
    """Power states, action kinds and action statuses are the enums' values, in declaration order."""
    assert POWER_STATES == ["on", "off", "unknown", "error"] == [s.value for s in PowerState]
    assert ACTION_KINDS == ["on", "off", "cycle", "soft_off", "query"] == [k.value for k in ActionKind]
    assert ACTION_STATUSES == [
        "pending", "sent", "running", "timed_out", "done", "failed", "superseded", "cancelled",
    ] == [s.value for s in ActionStatus]


def test_schemas_use_the_vocabulary():
    """An action's status and kind, and a node's power states, are enums of exactly those values."""
    action, node = SCHEMAS["Action"]["properties"], SCHEMAS["Node"]["properties"]
    assert action["status"] == {"enum": ACTION_STATUSES} and action["kind"] == {"enum": ACTION_KINDS}
    assert action["power_state"]["enum"] == POWER_STATES + [None]
    assert node["power_state"]["enum"] == node["desired_power_state"]["enum"] == POWER_STATES
    assert SCHEMAS["PowerRequest"]["properties"]["action"] == {"enum": ACTION_KINDS}


def test_query_parameters_use_the_vocabulary():
    """The node list's power-state filters take exactly the power states."""
    parameters = document()["paths"]["/api/v1/nodes"]["get"]["parameters"]
    enums = {p["name"]: p["schema"].get("enum") for p in parameters}
    assert enums["power_state"] == enums["desired_power_state"] == POWER_STATES
