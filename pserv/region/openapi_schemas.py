"""
The REST API's component schemas, and the vocabularies their enums hold.

The enums of power states, action kinds and action statuses are read from
:mod:`pserv.power.states`; :mod:`pserv.region.openapi` puts these schemas
in the document, and :mod:`pserv.region.validation` checks request bodies
against them.
"""

from __future__ import annotations

from typing import Any

from pserv.power.states import ActionKind, ActionStatus, PowerState

POWER_STATES = [state.value for state in PowerState]
ACTION_KINDS = [kind.value for kind in ActionKind]
ACTION_STATUSES = [status.value for status in ActionStatus]
LIFECYCLES = ["enrolled", "ready", "deleting"]
DRIFT_POLICIES = ["observe", "enforce"]
DRIFT = {
    "enum": DRIFT_POLICIES,
    "description": "when the observed power differs from the desired: observe records it; "
    "enforce, once the same drift is seen twice in a row, requests the desired state",
}


def ref(name: str) -> dict[str, str]:
    """
    A reference to the component schema ``name``.

    :param name: a key of :data:`SCHEMAS`.
    """
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": ref(item)},
            "next": {
                "type": ["string", "null"],
                "description": "the URL of the next page, or null on the last",
            },
        },
        "additionalProperties": False,
    }


TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what is wrong, in one sentence"},
            "field": {"type": "string", "description": "the field to blame, when one is"},
        },
        "additionalProperties": False,
    },
    "Node": {
        "type": "object",
        "required": [
            "id", "name", "cluster", "moving_from", "power_type", "power_parameters",
            "desired_power_state", "power_state", "power_state_observed_at",
            "power_error", "generation", "lifecycle", "drift_policy", "created_at", "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "cluster": {"type": ["string", "null"], "description": "the cluster that acts for it"},
            "moving_from": {
                "type": ["string", "null"],
                "description": "the cluster that must give the node up before its cluster gets it (a move)",
            },
            "power_type": {"type": "string"},
            "power_parameters": {
                "type": "object",
                "description": "driver settings; a secret that is set shows as \"set\"",
            },
            "desired_power_state": {"enum": POWER_STATES},
            "power_state": {"enum": POWER_STATES, "description": "last observed"},
            "power_state_observed_at": TIME,
            "power_error": {"type": ["string", "null"], "description": "the last read error"},
            "generation": {"type": "integer", "description": "intent generation"},
            "lifecycle": {"enum": LIFECYCLES},
            "drift_policy": DRIFT,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "NodeCreate": {
        "type": "object",
        "required": ["name", "power_type"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
            "cluster": {"type": ["string", "null"]},
            "power_type": {"type": "string"},
            "power_parameters": {"type": "object"},
            "drift_policy": DRIFT,
        },
        "additionalProperties": False,
    },
    "NodeUpdate": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "cluster": {"type": ["string", "null"]},
            "power_type": {"type": "string"},
            "power_parameters": {
                "type": "object",
                "description": "replaces the settings; a secret sent as \"set\" or left out keeps its value",
            },
            "drift_policy": DRIFT,
        },
        "additionalProperties": False,
    },
    "Action": {
        "type": "object",
        "required": [
            "id", "node", "kind", "status", "generation", "requested_by",
            "requested_at", "started_at", "finished_at", "error",
            "superseded_by", "power_state", "cancel_requested",
        ],
        "properties": {
            "id": {"type": "integer"},
            "node": {"type": "integer", "description": "the node's id"},
            "kind": {"enum": ACTION_KINDS},
            "status": {"enum": ACTION_STATUSES},
            "generation": {"type": "integer"},
            "requested_by": {"type": "string", "description": "the token's name"},
            "requested_at": {"type": "string", "format": "date-time"},
            "started_at": TIME,
            "finished_at": TIME,
            "error": {"type": ["string", "null"]},
            "superseded_by": {"type": ["integer", "null"]},
            "power_state": {
                "enum": POWER_STATES + [None],
                "description": "the state the action verified, once done",
            },
            "cancel_requested": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "PowerRequest": {
        "type": "object",
        "required": ["action"],
        "properties": {"action": {"enum": ACTION_KINDS}},
        "additionalProperties": False,
    },
    "BulkPowerRequest": {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"enum": ACTION_KINDS},
            "nodes": {
                "type": "array",
                "items": {"type": ["integer", "string"]},
                "description": "node ids or names; give this or filter",
            },
            "filter": {
                "type": "object",
                "properties": {
                    "cluster": {"type": "string"},
                    "power_state": {"enum": POWER_STATES},
                    "desired_power_state": {"enum": POWER_STATES},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
    "BulkPowerResult": {
        "type": "object",
        "required": ["actions"],
        "properties": {"actions": {"type": "array", "items": ref("Action")}},
        "additionalProperties": False,
    },
    "Event": {
        "type": "object",
        "required": ["id", "at", "node", "node_name", "action", "kind", "message"],
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "node": {"type": ["integer", "null"]},
            "node_name": {"type": ["string", "null"]},
            "action": {"type": ["integer", "null"]},
            "kind": {"type": "string"},
            "message": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "Driver": {
        "type": "object",
        "required": ["name", "label", "settings"],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "settings": {"type": "array", "items": ref("Setting")},
        },
        "additionalProperties": False,
    },
    "Setting": {
        "type": "object",
        "required": ["name", "label", "type", "required", "default", "secret"],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "type": {"enum": ["string", "integer", "number", "boolean", "choice", "address"]},
            "required": {"type": "boolean"},
            "default": {},
            "secret": {"type": "boolean", "description": "never returned; shows as \"set\""},
            "choices": {"type": "array", "items": {"type": "string"}},
            "minimum": {"type": "number"},
            "maximum": {"type": "number"},
            "help": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "Cluster": {
        "type": "object",
        "required": ["name", "connected", "last_seen_at", "last_heartbeat", "node_count"],
        "properties": {
            "name": {"type": "string"},
            "connected": {"type": "boolean"},
            "last_seen_at": TIME,
            "last_heartbeat": TIME,
            "node_count": {"type": "integer"},
        },
        "additionalProperties": False,
    },
    "ClusterPage": _page("Cluster"),
    "NodePage": _page("Node"),
    "ActionPage": _page("Action"),
    "EventPage": _page("Event"),
}
