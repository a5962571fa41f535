"""
The REST API's OpenAPI 3.1 document, as data.

It is the contract: the region serves it at ``/api/v1/openapi.json``, the
``pserv`` CLI and the web UI are written against it, and the tests validate
it, exercise every path it lists and check every response body against its
schemas.
"""

from __future__ import annotations

from typing import Any

from pserv import __version__

POWER_STATES = ["on", "off", "unknown", "error"]
ACTION_KINDS = ["on", "off", "cycle", "soft_off", "query"]
ACTION_STATUSES = ["pending", "sent", "running", "done", "failed", "superseded", "cancelled"]
LIFECYCLES = ["enrolled", "ready", "deleting"]
DRIFT_POLICIES = ["observe", "enforce"]
DRIFT = {
    "enum": DRIFT_POLICIES,
    "description": "when the observed power differs from the desired: observe records it; "
    "enforce, once the same drift is seen twice in a row, requests the desired state",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
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
            "id", "name", "cluster", "power_type", "power_parameters",
            "desired_power_state", "power_state", "power_state_observed_at",
            "power_error", "generation", "lifecycle", "drift_policy", "created_at", "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "cluster": {"type": ["string", "null"], "description": "the cluster that acts for it"},
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
        "properties": {"actions": {"type": "array", "items": _ref("Action")}},
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
            "settings": {"type": "array", "items": _ref("Setting")},
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

NODE_PARAM = {
    "name": "node", "in": "path", "required": True,
    "description": "the node's id, or its name",
    "schema": {"type": "string"},
}
ACTION_PARAM = {"name": "action", "in": "path", "required": True, "schema": {"type": "integer"}}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
AFTER = {"name": "after", "in": "query", "description": "only items with a larger id", "schema": {"type": "integer"}}
BEFORE = {"name": "before", "in": "query", "description": "only items with a smaller id", "schema": {"type": "integer"}}

BAD = _error("bad input: the body names the field and the reason")
UNAUTHORIZED = _error("no valid bearer token")
MISSING = _error("no such node or action")
CONFLICT = _error("the node's lifecycle or the action's status forbids it")
TOO_LARGE = _error("the request body is over the limit")


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


PATHS: dict[str, Any] = {
    "/api/v1/nodes": {
        "get": {
            "operationId": "listNodes",
            "summary": "List nodes, newest id last",
            "parameters": [
                _query("cluster", {"type": "string"}),
                _query("power_state", {"enum": POWER_STATES}),
                _query("desired_power_state", {"enum": POWER_STATES}),
                LIMIT, AFTER,
            ],
            "responses": {"200": _json(_ref("NodePage"), "a page of nodes"), "400": BAD, "401": UNAUTHORIZED},
        },
        "post": {
            "operationId": "createNode",
            "summary": "Enrol a node",
            "requestBody": _body("NodeCreate"),
            "responses": {
                "201": _json(_ref("Node"), "the node, with a Location header"),
                "400": BAD, "401": UNAUTHORIZED, "409": _error("a node with that name exists"), "413": TOO_LARGE,
            },
        },
    },
    "/api/v1/nodes/{node}": {
        "parameters": [NODE_PARAM],
        "get": {
            "operationId": "getNode",
            "summary": "Show a node",
            "responses": {"200": _json(_ref("Node"), "the node"), "401": UNAUTHORIZED, "404": MISSING},
        },
        "patch": {
            "operationId": "updateNode",
            "summary": "Change a node's name, cluster or power settings",
            "requestBody": _body("NodeUpdate"),
            "responses": {
                "200": _json(_ref("Node"), "the node"), "400": BAD, "401": UNAUTHORIZED,
                "404": MISSING, "409": CONFLICT, "413": TOO_LARGE,
            },
        },
        "delete": {
            "operationId": "deleteNode",
            "summary": "Delete a node; pending actions are cancelled, one in flight first",
            "responses": {
                "204": {"description": "deleted"},
                "202": _json(_ref("Node"), "an action is in flight: the node is deleting until it stops"),
                "401": UNAUTHORIZED, "404": MISSING,
            },
        },
    },
    "/api/v1/nodes/{node}/power": {
        "parameters": [NODE_PARAM],
        "post": {
            "operationId": "requestPower",
            "summary": "State a power intent; committed before the answer",
            "requestBody": _body("PowerRequest"),
            "responses": {
                "202": _json(_ref("Action"), "accepted: the new action, with a Location header"),
                "200": _json(_ref("Action"), "a duplicate of the newest outstanding action: that action"),
                "400": BAD, "401": UNAUTHORIZED, "404": MISSING, "409": CONFLICT, "413": TOO_LARGE,
            },
        },
    },
    "/api/v1/nodes/{node}/actions": {
        "parameters": [NODE_PARAM],
        "get": {
            "operationId": "listNodeActions",
            "summary": "A node's power actions, newest first",
            "parameters": [LIMIT, BEFORE],
            "responses": {"200": _json(_ref("ActionPage"), "a page of actions"), "400": BAD, "401": UNAUTHORIZED, "404": MISSING},
        },
    },
    "/api/v1/power": {
        "post": {
            "operationId": "requestBulkPower",
            "summary": "One power intent for many nodes, in one transaction",
            "requestBody": _body("BulkPowerRequest"),
            "responses": {
                "202": _json(_ref("BulkPowerResult"), "one action per node"),
                "400": BAD, "401": UNAUTHORIZED, "404": MISSING, "409": CONFLICT, "413": TOO_LARGE,
            },
        },
    },
    "/api/v1/actions/{action}": {
        "parameters": [ACTION_PARAM],
        "get": {
            "operationId": "getAction",
            "summary": "Show a power action",
            "responses": {"200": _json(_ref("Action"), "the action"), "401": UNAUTHORIZED, "404": MISSING},
        },
    },
    "/api/v1/actions/{action}/cancel": {
        "parameters": [ACTION_PARAM],
        "post": {
            "operationId": "cancelAction",
            "summary": "Cancel an action: at once if pending, at its safe point if in flight",
            "responses": {
                "200": _json(_ref("Action"), "cancelled"),
                "202": _json(_ref("Action"), "in flight: the cluster stops it at its next safe point"),
                "401": UNAUTHORIZED, "404": MISSING, "409": _error("the action has already ended"),
            },
        },
    },
    "/api/v1/events": {
        "get": {
            "operationId": "listEvents",
            "summary": "The audit log, oldest first",
            "parameters": [
                _query("node", {"type": "string", "description": "a node's id or name"}),
                _query("since", {"type": "string", "format": "date-time"}),
                LIMIT, AFTER,
            ],
            "responses": {"200": _json(_ref("EventPage"), "a page of events"), "400": BAD, "401": UNAUTHORIZED, "404": MISSING},
        },
    },
    "/api/v1/clusters": {
        "get": {
            "operationId": "listClusters",
            "summary": "Clusters, whether each is connected, its last heartbeat and node count",
            "responses": {"200": _json(_ref("ClusterPage"), "every cluster"), "401": UNAUTHORIZED},
        },
    },
    "/api/v1/drivers": {
        "get": {
            "operationId": "listDrivers",
            "summary": "Power drivers and their settings, for forms and validation",
            "responses": {
                "200": _json({"type": "array", "items": _ref("Driver")}, "every driver"),
                "401": UNAUTHORIZED,
            },
        },
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenAPI",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "the OpenAPI 3.1 document"}},
        },
    },
}


def document() -> dict[str, Any]:
    """
    The whole OpenAPI 3.1 document.
    """
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pserv region API",
            "version": __version__,
            "description": "Power intent for bare-metal nodes. Every power request is "
            "committed before it is answered 202 Accepted.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
