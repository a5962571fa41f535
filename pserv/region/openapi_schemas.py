"""
The REST API's component schemas, and the vocabularies their enums hold.

The enums of power states, action kinds and action statuses are read from
:mod:`pserv.power.states`, the node name's pattern from the store, the
power parameters from the power types
(:mod:`pserv.region.openapi_settings`); :mod:`pserv.region.openapi` puts
these schemas in the document, and :mod:`pserv.region.validation` checks
requests against them: every rule the API enforces is declared here.
"""

from __future__ import annotations

from typing import Any

from pserv.power.boot import BOOT_KINDS, BootDevice
from pserv.power.policy import DEFAULT_POLICY
from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.region.openapi_settings import CREATE, UPDATE, by_power_type, parameter_schemas
from pserv.region.store.actions import MAX_REASON, REASON_PATTERN
from pserv.region.store.batches import COUNTED
from pserv.region.store.common import MAX_ID
from pserv.region.store.locks import MAX_LOCK_REASON
from pserv.region.store.schedules import MAX_AHEAD
from pserv.region.store.nodes import NAME
from pserv.region.openapi_auth import AUTH_SCHEMAS

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
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
"""A node's or an action's id, as the store keeps them (:data:`MAX_ID`)."""
_NAME = NAME.pattern.removeprefix("^").removesuffix("$")
NAME_SCHEMA = {
    "type": "string", "minLength": 1, "maxLength": 63, "pattern": NAME.pattern, "not": {"pattern": "^[0-9]+$"},
    "description": "1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, not all digits",
}
"""A node's name: all digits would read as an id."""
CLUSTER_NAME = {"type": "string", "maxLength": 63, "pattern": NAME.pattern, "description": "a cluster's name"}
NO_CLUSTER = {"type": ["string", "null"], "maxLength": 63, "pattern": f"^(?:{_NAME})?$",
              "description": "a cluster's name; null or empty for none"}
NO_GROUP = {"type": ["string", "null"], "maxLength": 63, "pattern": f"^(?:{_NAME})?$",
            "description": "a cluster group's name (null or empty for none): the region gives the node to one "
                           "member of the group, so a node with a group takes no cluster (400 naming cluster)"}
GROUP_NAME = {"type": "string", "maxLength": 63, "pattern": NAME.pattern, "description": "a cluster group's name"}
NODE_REF = {"oneOf": [ID, NAME_SCHEMA], "description": "a node's id, or its name"}

ESCALATE_AFTER_MAX = DEFAULT_POLICY.soft_off_timeout
"""The longest a soft_off may wait before escalating: by then a graceful shutdown fails anyway."""
ESCALATE_AFTER = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": ESCALATE_AFTER_MAX,
    "description": "soft_off only: seconds to wait for the graceful shutdown before a hard off; "
    "without it, a soft_off never forces the node off",
}
SOFT_OFF_ONLY = {
    "if": {"required": ["action"], "properties": {"action": {"const": ActionKind.SOFT_OFF.value}}},
    "else": {"not": {"required": ["escalate_after"]}, "description": "only for soft_off"},
}
"""The rule that ``escalate_after`` goes only with a ``soft_off``, for a request's schema."""

BOOT_DEVICE = {
    "enum": [device.value for device in BootDevice],
    "description": "on or cycle only: the boot device the node's cluster sets (and reads back where the BMC "
    "can) before the power command; the node's power type must be able to set one (ipmi, redfish), else 409 "
    "naming boot_device",
}
BOOT_PERSISTENT = {
    "type": "boolean",
    "description": "with boot_device: true sets it for every boot; false (the default) for the next boot only",
}
BOOT_ONLY = {
    "if": {"required": ["action"], "properties": {"action": {"enum": sorted(kind.value for kind in BOOT_KINDS)}}},
    "else": {"not": {"required": ["boot_device"]}, "description": "only for on or cycle"},
}
"""The rule that ``boot_device`` goes only with an ``on`` or a ``cycle``, for a request's schema."""
BOOT_RULES = {
    "allOf": [BOOT_ONLY],
    "dependentRequired": {"boot_persistent": ["boot_device"]},
}
"""Where the boot fields may go: ``boot_device`` with a kind that boots, ``boot_persistent`` with it."""

REASON = {
    "type": "string", "minLength": 1, "maxLength": MAX_REASON, "pattern": REASON_PATTERN,
    "description": f"1 to {MAX_REASON} characters, one line, no control characters",
}
"""Why a power request is made: kept with its action, said in its event."""

POWER_TYPE_FILTER = {"type": "string", "maxLength": 32, "pattern": "^[a-z][a-z0-9_]*$",
                     "description": "a power type's name, such as ipmi"}
NAME_SEARCH = {"type": "string", "maxLength": 63,
               "description": "part of a node's name (at most 63 characters), case ignored"}
"""The ``q`` filter: text of which a node's name holds, case ignored."""

NOT_BEFORE = {
    "type": "string", "format": "date-time",
    "description": f"RFC 3339, with its offset: the action is committed now and handed to its cluster at this "
    f"time, at most {MAX_AHEAD.days} days ahead (400 naming not_before past that); a time past means now",
}
"""When a scheduled power request's action is to be handed over (:mod:`pserv.region.store.schedules`)."""

LOCK_REASON = {
    "type": "string", "minLength": 1, "maxLength": MAX_LOCK_REASON, "pattern": REASON_PATTERN,
    "description": f"why the node is locked: 1 to {MAX_LOCK_REASON} characters, one line, no control characters",
}

POWER_REQUEST = {
    "action": {"enum": ACTION_KINDS},
    "escalate_after": ESCALATE_AFTER,
    "reason": REASON,
    "boot_device": BOOT_DEVICE,
    "boot_persistent": BOOT_PERSISTENT,
    "not_before": NOT_BEFORE,
}
"""The properties of a power request, one line each: the one-node request
and the bulk one share them."""


def schemas(power_types: PowerTypes = POWER_TYPES) -> dict[str, Any]:
    """
    The component schemas of a region whose nodes may have ``power_types``.
    """
    return {
        **SCHEMAS,
        "NodeCreate": _node_create(power_types),
        "NodeUpdate": _node_update(power_types),
        **parameter_schemas(power_types),
    }


def _node_create(power_types: PowerTypes) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name", "power_type"],
        "properties": {
            "name": NAME_SCHEMA,
            "group": NO_GROUP,
            "cluster": NO_CLUSTER,
            "power_type": {"enum": list(power_types), "title": "driver"},
            "power_parameters": {"type": "object", "description": "the power type's settings; none if left out"},
            "drift_policy": DRIFT,
        },
        "additionalProperties": False,
        "allOf": by_power_type(power_types, CREATE, ref),
    }


def _node_update(power_types: PowerTypes) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": NAME_SCHEMA,
            "group": NO_GROUP,
            "cluster": NO_CLUSTER,
            "power_type": {"enum": list(power_types), "title": "driver", "description": "given with power_parameters"},
            "power_parameters": {
                "type": "object",
                "description": "replaces the settings, given with power_type; a secret sent as \"set\" "
                "or left out keeps its value",
            },
            "drift_policy": DRIFT,
        },
        "additionalProperties": False,
        "dependentRequired": {"power_type": ["power_parameters"], "power_parameters": ["power_type"]},
        "allOf": by_power_type(power_types, UPDATE, ref),
    }


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
            "id", "name", "group", "cluster", "moving_from", "power_type", "power_parameters",
            "desired_power_state", "power_state", "power_state_observed_at",
            "power_error", "generation", "version", "lifecycle", "drift_policy", "locked", "locked_by",
            "lock_reason", "locked_at", "created_at", "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "group": {"type": ["string", "null"], "description": "its cluster group, if it has one"},
            "cluster": {
                "type": ["string", "null"],
                "description": "the cluster that acts for it: for a node of a group, the member that holds it now",
            },
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
            "version": {
                "type": "integer", "minimum": 1,
                "description": "counts the node's changes (a PATCH that changes something); its ETag, for If-Match",
            },
            "lifecycle": {"enum": LIFECYCLES},
            "drift_policy": DRIFT,
            "locked": {"type": "boolean", "description": "locked: it refuses off, cycle and soft_off (409)"},
            "locked_by": {"type": ["string", "null"], "description": "who locked it"},
            "lock_reason": {"type": ["string", "null"], "description": "why it is locked"},
            "locked_at": {**TIME, "description": "when it was locked"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "LockRequest": {
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": LOCK_REASON},
        "additionalProperties": False,
    },
    "LockedNode": {
        "type": "object",
        "required": ["node", "name", "locked_by", "lock_reason"],
        "properties": {
            "node": {"type": "integer", "description": "the node's id"},
            "name": {"type": "string"},
            "locked_by": {"type": ["string", "null"]},
            "lock_reason": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    },
    "Action": {
        "type": "object",
        "required": [
            "id", "node", "kind", "status", "generation", "requested_by",
            "requested_at", "started_at", "finished_at", "error",
            "superseded_by", "power_state", "cancel_requested", "escalate_after", "reason",
            "boot_device", "boot_persistent", "not_before",
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
            "cancel_requested": {"type": "boolean", "description": "an operator cancelled it"},
            "escalate_after": {
                "type": ["number", "null"],
                "description": "for a soft_off, the seconds it waits before a hard off; null: it never escalates",
            },
            "reason": {"type": ["string", "null"], "description": "why it was asked for; null if no reason was given"},
            "boot_device": {
                "enum": [device.value for device in BootDevice] + [None],
                "description": "for an on or cycle, the boot device set before the power command; null: none",
            },
            "boot_persistent": {"type": "boolean", "description": "the boot device is set for every boot, "
                                "not the next only"},
            "not_before": {**TIME, "description": "scheduled: not handed to its cluster before this time; "
                           "null: at once"},
        },
        "additionalProperties": False,
    },
    "PowerRequest": {
        "type": "object",
        "required": ["action"],
        "properties": POWER_REQUEST,
        "additionalProperties": False,
        **SOFT_OFF_ONLY,
        **BOOT_RULES,
    },
    "BulkPowerRequest": {
        "type": "object",
        "required": ["action"],
        "properties": {
            **POWER_REQUEST,
            "nodes": {
                "type": "array",
                "minItems": 1,
                "items": {"type": ["integer", "string"]},
                "description": "node ids or names; give this or filter",
            },
            "filter": {
                "type": "object",
                "properties": {
                    "group": GROUP_NAME,
                    "cluster": CLUSTER_NAME,
                    "power_type": POWER_TYPE_FILTER,
                    "power_state": {"enum": POWER_STATES},
                    "desired_power_state": {"enum": POWER_STATES},
                    "q": NAME_SEARCH,
                },
                "additionalProperties": False,
                "description": "every node that matches all of these",
            },
            "dry_run": {
                "type": "boolean",
                "description": "true: change nothing, and answer how many nodes the request would change",
            },
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["nodes"]}, {"required": ["filter"]}],
        **SOFT_OFF_ONLY,
        **BOOT_RULES,
    },
    "BulkPowerResult": {
        "type": "object",
        "required": ["batch", "actions", "locked"],
        "properties": {
            "batch": {"type": "integer", "description": "the batch's id: GET /api/v1/batches/{batch}"},
            "actions": {"type": "array", "items": ref("Action"),
                        "description": "one per node not locked against it, in node id order"},
            "locked": {"type": "array", "items": ref("LockedNode"),
                       "description": "for an off, a cycle or a soft_off: the locked nodes, left alone"},
        },
        "additionalProperties": False,
    },
    "BulkPowerPreview": {
        "type": "object",
        "required": ["dry_run", "action", "nodes", "change", "unchanged", "locked"],
        "properties": {
            "dry_run": {"const": True},
            "action": {"enum": ACTION_KINDS},
            "nodes": {"type": "integer", "minimum": 1, "description": "how many nodes the request names"},
            "change": {"type": "integer", "minimum": 0, "description": "nodes not yet in the action's target "
                       "state (last observed): all of them for a cycle, none for a query"},
            "unchanged": {"type": "integer", "minimum": 0, "description": "nodes already in the target state"},
            "locked": {"type": "integer", "minimum": 0, "description": "locked nodes an off, a cycle or a soft_off "
                       "would leave alone (counted in neither change nor unchanged)"},
        },
        "additionalProperties": False,
    },
    "Batch": {
        "type": "object",
        "required": ["id", "action", "requested_by", "reason", "created_at", "size", "counts", "finished"],
        "properties": {
            "id": {"type": "integer"},
            "action": {"enum": ACTION_KINDS},
            "requested_by": {"type": "string"},
            "reason": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "size": {"type": "integer", "minimum": 1, "description": "how many actions it made or joined"},
            "counts": {
                "type": "object",
                "required": list(COUNTED),
                "properties": {name: {"type": "integer", "minimum": 0} for name in COUNTED},
                "additionalProperties": False,
                "description": "its actions by status; running counts sent and running; a deleted node's "
                "actions are no longer counted",
            },
            "finished": {"type": "boolean", "description": "every action counted is final"},
        },
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
        "required": ["name", "label", "settings", "can_set_boot"],
        "properties": {
            "name": {"type": "string"},
            "label": {"type": "string"},
            "settings": {"type": "array", "items": ref("Setting")},
            "can_set_boot": {"type": "boolean", "description": "whether an on or cycle of its nodes may name a "
                             "boot_device (ipmi, redfish)"},
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
        "required": ["name", "group", "connected", "region", "last_seen_at", "last_heartbeat", "lease_expires_at",
                     "draining", "node_count"],
        "properties": {
            "name": {"type": "string"},
            "group": {"type": ["string", "null"], "description": "the group it serves, if any"},
            "connected": {"type": "boolean", "description": "connected to a region, and its lease runs"},
            "region": {"type": ["string", "null"], "description": "the region it is connected to"},
            "last_seen_at": TIME,
            "last_heartbeat": TIME,
            "lease_expires_at": {**TIME, "description": "when its lease ends unless a heartbeat renews it"},
            "draining": {"type": "boolean", "description": "its group's nodes are being moved to the other members"},
            "node_count": {"type": "integer", "description": "the nodes it holds"},
        },
        "additionalProperties": False,
    },
    "ClusterUpdate": {
        "type": "object",
        "required": ["draining"],
        "properties": {
            "draining": {"type": "boolean", "description": "true: move its group's nodes to the other members, "
                                                          "and give it none; false: it takes its share again"},
        },
        "additionalProperties": False,
    },
    "ClusterPage": _page("Cluster"),
    "NodePage": _page("Node"),
    "ActionPage": _page("Action"),
    "EventPage": _page("Event"),
}

# Who is asking: whoami, users and tokens (pserv/region/openapi_auth.py).
SCHEMAS.update(AUTH_SCHEMAS)
