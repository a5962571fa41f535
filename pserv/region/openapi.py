"""
The REST API's OpenAPI 3.1 document, as data.

It is the contract: the region serves it at ``/api/v1/openapi.json``, the
``pserv`` CLI and the web UI are written against it, and the tests validate
it, exercise every path it lists and check every response body against its
schemas, and the region checks every request against it
(:mod:`pserv.region.validation`): a rule the API enforces is a rule
declared here.  The paths, their parameters and the links between
operations are here; the component schemas are in
:mod:`pserv.region.openapi_schemas`.
"""

from __future__ import annotations

from typing import Any

from pserv import __version__
from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.region.openapi_auth import AUTH_PATHS, SECURITY, SECURITY_SCHEMES, add_forbidden
from pserv.region.openapi_schemas import (
    CLUSTER_NAME,
    ID,
    NAME_SCHEMA,
    NAME_SEARCH,
    NODE_REF,
    POWER_STATES,
    POWER_TYPE_FILTER,
    SCHEMAS,
    ref,
    schemas,
)

__all__ = ["PATHS", "POWER_STATES", "SCHEMAS", "document"]


def _json(schema: dict[str, Any], description: str, **more: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **more}


def _links(**operations: dict[str, str]) -> dict[str, Any]:
    """
    OpenAPI links: for each operation id, its parameters taken from this
    answer (``$response.body#/id`` and so on).
    """
    return {f"to_{op}": {"operationId": op, "parameters": params} for op, params in operations.items()}


def _node_links(pointer: str, etag: bool = False) -> dict[str, Any]:
    """
    Links from an answer holding a node (at ``pointer``) to what takes one;
    with ``etag``, the answer's ETag goes to a change as its If-Match.
    """
    node = {"node": f"$response.body#{pointer}"}
    change = {**node, "If-Match": "$response.header.ETag"} if etag else node
    return _links(getNode=node, updateNode=change, deleteNode=node, requestPower=node, listNodeActions=node,
                  listEvents={"node": f"$response.body#{pointer}"})


def _action_links(pointer: str) -> dict[str, Any]:
    """Links from an answer holding an action (at ``pointer``) to what takes one."""
    action = {"action": f"$response.body#{pointer}"}
    return _links(getAction=action, cancelAction=action)


def _error(description: str) -> dict[str, Any]:
    return _json(ref("Error"), description)


NODE_PARAM = {
    "name": "node", "in": "path", "required": True,
    "description": "the node's id, or its name",
    "schema": NODE_REF,
}
ACTION_PARAM = {"name": "action", "in": "path", "required": True, "schema": ID}
BATCH_PARAM = {"name": "batch", "in": "path", "required": True, "schema": ID}
MAX_IDS = 500
IDS = {
    "name": "ids", "in": "query", "required": True, "style": "form", "explode": False,
    "description": f"the actions' ids, separated by commas: 1,2,3 (1 to {MAX_IDS})",
    "schema": {"type": "array", "minItems": 1, "maxItems": MAX_IDS, "items": ID,
               "description": f"1 to {MAX_IDS} action ids, separated by commas"},
}
ETAG = {"ETag": {"required": True, "description": "the node's version, quoted: \"3\"; If-Match takes it",
                 "schema": {"type": "string", "pattern": '^"[0-9]+"$'}}}
IF_MATCH = {
    "name": "If-Match", "in": "header",
    "description": "the ETag of the node as read (the quotes may be left out); a change is refused (412) if "
    "the node has changed since; * or none: whatever its version",
    "schema": {"type": "string", "pattern": '^(?:\\*|"[0-9]{1,10}"|[0-9]{1,10})$',
               "description": "the node's ETag (its version, quoted: \"3\"), or *"},
}
CURSOR = {"type": "integer", "minimum": 0, "maximum": ID["maximum"]}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
AFTER = {"name": "after", "in": "query", "description": "only items with a larger id", "schema": CURSOR}
BEFORE = {"name": "before", "in": "query", "description": "only items with a smaller id", "schema": CURSOR}
CLUSTER_FILTER = {"type": "string", "pattern": f"^(?:{NAME_SCHEMA['pattern'][1:-1]})?$",
                  "description": "a cluster's name; empty for any"}
GROUP_FILTER = {**CLUSTER_FILTER, "description": "a cluster group's name; empty for any"}
LOCATION = {"Location": {"required": True, "description": "the new resource's path", "schema": {"type": "string"}}}

BAD = _error("bad input: the body names the field and the reason")
UNAUTHORIZED = _error("no valid bearer token")
MISSING = _error("no such node or action")
CONFLICT = _error("the node's lifecycle or the action's status forbids it")
POWER_CONFLICT = _error("the node is deleting, or its power type cannot set the boot_device asked for")
STALE = _error("If-Match: the node has changed since that version was read; nothing was changed")
TOO_LARGE = _error("the request body is over the limit")


STREAM_DESCRIPTION = """\
`text/event-stream`. It starts with `retry: 2000` (reconnect after 2 s), then sends each
event stored, oldest first, as

    id: <the event's id>
    event: event
    data: <the Event, as JSON on one line, as GET /api/v1/events shows it>

followed by a blank line, and the comment `: keep-alive` every 15 s. It starts after the
`Last-Event-ID` header, else after `after`, else with the events stored from now: first
the events already stored after that id, then each new one within a second of its commit.
Resuming with the last id received loses nothing. `node` and `since` narrow it as they do
GET /api/v1/events. With `coalesce=node`, of each batch sent only the newest event of
each node is kept (events without a node are all kept): a batch's newest event is always
sent, and an event left out was followed by a newer one of its node, so a resume after
the last id received leaves no node's latest state unseen."""


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


PATHS: dict[str, Any] = {
    "/api/v1/nodes": {
        "get": {
            "operationId": "listNodes",
            "summary": "List nodes, newest id last",
            "parameters": [
                _query("group", GROUP_FILTER),
                _query("cluster", CLUSTER_FILTER),
                _query("power_type", {**POWER_TYPE_FILTER, "pattern": "^(?:[a-z][a-z0-9_]*)?$",
                                      "description": "a power type's name; empty for any"}),
                _query("power_state", {"enum": POWER_STATES}),
                _query("desired_power_state", {"enum": POWER_STATES}),
                _query("q", NAME_SEARCH),
                LIMIT, AFTER,
            ],
            "responses": {
                "200": _json(ref("NodePage"), "a page of nodes"),
                "400": BAD, "401": UNAUTHORIZED,
            },
        },
        "post": {
            "operationId": "createNode",
            "summary": "Enrol a node",
            "requestBody": _body("NodeCreate"),
            "responses": {
                "201": _json(ref("Node"), "the node, with a Location header", headers=LOCATION,
                             links=_node_links("/id")),
                "400": BAD, "401": UNAUTHORIZED, "409": _error("a node with that name exists"), "413": TOO_LARGE,
            },
        },
    },
    "/api/v1/nodes/{node}": {
        "parameters": [NODE_PARAM],
        "get": {
            "operationId": "getNode",
            "summary": "Show a node",
            "responses": {
                "200": _json(ref("Node"), "the node, with its version as ETag", headers=ETAG,
                             links=_node_links("/id", etag=True)),
                "401": UNAUTHORIZED, "404": MISSING,
            },
        },
        "patch": {
            "operationId": "updateNode",
            "summary": "Change a node's name, cluster or power settings; with If-Match, only from that version",
            "parameters": [IF_MATCH],
            "requestBody": _body("NodeUpdate"),
            "responses": {
                "200": _json(ref("Node"), "the node, with its version as ETag", headers=ETAG,
                             links=_node_links("/id", etag=True)),
                "400": BAD, "401": UNAUTHORIZED, "404": MISSING, "412": STALE, "413": TOO_LARGE,
                "409": _error("the node is deleting, the name is taken, or a secret kept from the node "
                              "(sent as \"set\" or left out) does not fit the new settings"),
            },
        },
        "delete": {
            "operationId": "deleteNode",
            "summary": "Delete a node; pending actions are cancelled, one in flight first",
            "responses": {
                "204": {"description": "deleted"},
                "202": _json(ref("Node"), "an action is in flight: the node is deleting until it stops",
                             links=_links(getNode={"node": "$response.body#/id"})),
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
                "202": _json(ref("Action"), "accepted: the new action, with a Location header", headers=LOCATION,
                             links=_action_links("/id")),
                "200": _json(ref("Action"), "a duplicate of the newest outstanding action: that action",
                             links=_action_links("/id")),
                "400": BAD, "401": UNAUTHORIZED, "404": MISSING, "409": POWER_CONFLICT, "413": TOO_LARGE,
            },
        },
    },
    "/api/v1/nodes/{node}/lock": {
        "parameters": [NODE_PARAM],
        "post": {
            "operationId": "lockNode",
            "summary": "Lock a node against off, cycle and soft_off, saying why; recorded as an event",
            "requestBody": _body("LockRequest"),
            "responses": {
                "200": _json(ref("Node"), "locked", links=_node_links("/id")),
                "400": BAD, "401": UNAUTHORIZED, "404": MISSING, "413": TOO_LARGE,
                "409": _error("already locked, or an off, a cycle or a soft_off is outstanding (named)"),
            },
        },
    },
    "/api/v1/nodes/{node}/unlock": {
        "parameters": [NODE_PARAM],
        "post": {
            "operationId": "unlockNode",
            "summary": "Unlock a node; recorded as an event",
            "responses": {
                "200": _json(ref("Node"), "unlocked", links=_node_links("/id")),
                "401": UNAUTHORIZED, "404": MISSING, "409": _error("the node is not locked"),
            },
        },
    },
    "/api/v1/nodes/{node}/actions": {
        "parameters": [NODE_PARAM],
        "get": {
            "operationId": "listNodeActions",
            "summary": "A node's power actions, newest first",
            "parameters": [LIMIT, BEFORE],
            "responses": {
                "200": _json(ref("ActionPage"), "a page of actions"),
                "400": BAD, "401": UNAUTHORIZED, "404": MISSING,
            },
        },
    },
    "/api/v1/power": {
        "post": {
            "operationId": "requestBulkPower",
            "summary": "One power intent for many nodes, in one transaction",
            "requestBody": _body("BulkPowerRequest"),
            "responses": {
                "202": _json(ref("BulkPowerResult"), "its batch, and one action per node", links={
                    **_action_links("/actions/0/id"), **_links(getBatch={"batch": "$response.body#/batch"})}),
                "200": _json(ref("BulkPowerPreview"), "a dry run: what the request would change; nothing changed"),
                "400": BAD, "401": UNAUTHORIZED, "413": TOO_LARGE, "409": POWER_CONFLICT,
                "404": _error("a node named is missing, or no node matches the filter"),
            },
        },
    },
    "/api/v1/batches/{batch}": {
        "parameters": [BATCH_PARAM],
        "get": {
            "operationId": "getBatch",
            "summary": "A bulk request's progress: its actions counted by status",
            "responses": {"200": _json(ref("Batch"), "the batch"), "401": UNAUTHORIZED,
                          "404": _error("no such batch")},
        },
    },
    "/api/v1/actions": {
        "get": {
            "operationId": "listActions",
            "summary": "Power actions by id, in id order; ids with no action are left out",
            "parameters": [IDS],
            "responses": {"200": _json(ref("ActionPage"), "the actions; next is null"), "400": BAD,
                          "401": UNAUTHORIZED},
        },
    },
    "/api/v1/actions/{action}": {
        "parameters": [ACTION_PARAM],
        "get": {
            "operationId": "getAction",
            "summary": "Show a power action",
            "responses": {
                "200": _json(ref("Action"), "the action", links=_links(
                    getNode={"node": "$response.body#/node"}, cancelAction={"action": "$response.body#/id"})),
                "401": UNAUTHORIZED, "404": MISSING,
            },
        },
    },
    "/api/v1/actions/{action}/cancel": {
        "parameters": [ACTION_PARAM],
        "post": {
            "operationId": "cancelAction",
            "summary": "Cancel an action: at once if pending, at its safe point if in flight",
            "responses": {
                "200": _json(ref("Action"), "cancelled", links=_action_links("/id")),
                "202": _json(ref("Action"), "in flight: the cluster stops it at its next safe point",
                             links=_action_links("/id")),
                "401": UNAUTHORIZED, "404": MISSING, "409": _error("the action has already ended"),
            },
        },
    },
    "/api/v1/events": {
        "get": {
            "operationId": "listEvents",
            "summary": "The audit log, oldest first (order=desc: newest first, going on with before)",
            "parameters": [
                _query("node", NODE_REF),
                _query("since", {"type": "string", "format": "date-time"}),
                {"name": "order", "in": "query", "description": "asc: oldest first, the next page after; "
                 "desc: newest first, the next page before", "schema": {"enum": ["asc", "desc"], "default": "asc"}},
                LIMIT, AFTER, BEFORE,
            ],
            "responses": {"200": _json(ref("EventPage"), "a page of events"), "400": BAD, "401": UNAUTHORIZED, "404": MISSING},
        },
    },
    "/api/v1/events/stream": {
        "get": {
            "operationId": "streamEvents",
            "summary": "The audit log as it grows, as server-sent events",
            "description": STREAM_DESCRIPTION,
            "parameters": [
                _query("node", NODE_REF),
                {**AFTER, "description": "start after this event id (Last-Event-ID wins); 0 for the whole log; "
                 "without either, only events stored from now"},
                _query("since", {"type": "string", "format": "date-time"}),
                {"name": "coalesce", "in": "query", "schema": {"enum": ["node"]},
                 "description": "node: of each batch sent, only the newest event of each node "
                 "(events without a node are all kept)"},
                {"name": "Last-Event-ID", "in": "header", "schema": CURSOR,
                 "description": "the id of the last event received: resume after it (a reconnecting "
                 "EventSource sends it)"},
            ],
            "responses": {
                "200": {
                    "description": "the stream, open until the client leaves or the region stops",
                    "headers": {
                        "Cache-Control": {"description": "no-store", "schema": {"type": "string"}},
                        "X-Accel-Buffering": {"description": "no: a proxy passes each event on at once",
                                              "schema": {"type": "string"}},
                    },
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "400": BAD, "401": UNAUTHORIZED, "404": _error("no such node"),
            },
        },
    },
    "/api/v1/clusters": {
        "get": {
            "operationId": "listClusters",
            "summary": "Clusters: each one's group, the region it is connected to, its last heartbeat and lease, "
                       "its node count",
            "responses": {
                "200": _json(ref("ClusterPage"), "every cluster",
                             links=_links(updateCluster={"cluster": "$response.body#/items/0/name"})),
                "401": UNAUTHORIZED,
            },
        },
    },
    "/api/v1/clusters/{cluster}": {
        "parameters": [{"name": "cluster", "in": "path", "required": True, "schema": CLUSTER_NAME}],
        "patch": {
            "operationId": "updateCluster",
            "summary": "Drain a member of a group (its nodes move to the other members) or take it back",
            "requestBody": _body("ClusterUpdate"),
            "responses": {
                "200": _json(ref("Cluster"), "the cluster"),
                "400": BAD, "401": UNAUTHORIZED, "404": _error("no such cluster"), "413": TOO_LARGE,
            },
        },
    },
    "/api/v1/drivers": {
        "get": {
            "operationId": "listDrivers",
            "summary": "Power drivers and their settings, for forms and validation",
            "responses": {
                "200": _json({"type": "array", "items": ref("Driver")}, "every driver"),
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

# Who is asking: whoami, users and tokens; and every guarded operation's 403
# (pserv/region/openapi_auth.py, from the permission table).
PATHS.update(AUTH_PATHS)
add_forbidden(PATHS)


def document(power_types: PowerTypes = POWER_TYPES) -> dict[str, Any]:
    """
    The whole OpenAPI 3.1 document.

    :param power_types: the power types the region's nodes may have.
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
        "security": SECURITY,
        "paths": PATHS,
        "components": {
            "schemas": schemas(power_types),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
