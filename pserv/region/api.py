"""
The REST API under ``/api/v1``, as ``pserv/region/openapi.py`` specifies it.

Every route authenticates, validates, does its database work in one
transaction off the reactor thread, and answers JSON.  A refusal is a JSON
``{"error", "field"}`` with 400, 401, 404, 409 or 413; anything else that
goes wrong is logged (never with a request body) and answered 500.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from twisted.logger import Logger
from werkzeug.exceptions import MethodNotAllowed, NotFound as NoRoute

from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.region.auth import TokenCheck, Unauthorized
from pserv.region.clusters import ConnectedClusters
from pserv.region.db import Database
from pserv.region.errors import Invalid, RegionError
from pserv.region.store.common import utc
from pserv.util.times import moment_from_iso
from pserv.region.http import answer, query_int, query_text, read_json
from pserv.region.openapi import POWER_STATES, document
from pserv.region.routes import Routes
from pserv.region.store import actions, events, nodes
from pserv.region.store.clusters import list_clusters
from pserv.region.validation import check_body

log = Logger()

Handler = Callable[..., Awaitable[tuple[int, Any]]]
NODE_FILTERS = ("cluster", "power_state", "desired_power_state")
BIG = 2**62


def endpoint(handler: Handler) -> Callable[..., Awaitable[bytes]]:
    """
    Authenticate, run ``handler(self, request, who, **path)`` for
    ``(status, body)``, and answer JSON; refusals become their status.
    """

    @functools.wraps(handler)
    async def run(self: RegionAPI, request: Any, **path: Any) -> bytes:
        try:
            who = await self.tokens.name_for(request)
            status, body = await handler(self, request, who, **path)
        except Unauthorized as e:
            request.setHeader(b"www-authenticate", b'Bearer realm="pserv"')
            return answer(request, e.status, e.body())
        except RegionError as e:
            return answer(request, e.status, e.body())
        except Exception:
            log.failure("{method} {path} failed", method=request.method, path=request.path)
            return answer(request, 500, {"error": "internal error; see the region's log"})
        return answer(request, status, body)

    return run


class RegionAPI:
    """
    The API's routes.

    :param clock: gives the times stored with requests and events.
    :param power_types: the power types a node may have: the production
        ones unless a test or the simulation adds ``fake``.
    """

    app = Routes()

    def __init__(self, database: Database, clock: Any, clusters: ConnectedClusters | None = None,
                 power_types: PowerTypes = POWER_TYPES) -> None:
        self.database = database
        self.clock = clock
        self.tokens = TokenCheck(database, clock)
        self.clusters = clusters if clusters is not None else ConnectedClusters(database, clock)
        self.power_types = power_types

    def resource(self) -> Any:
        """The twisted.web resource serving the API."""
        return self.app.resource()

    def now(self) -> datetime:
        """The clock's time, as the store keeps it."""
        return datetime.fromtimestamp(self.clock.seconds(), timezone.utc).replace(tzinfo=None)

    # Nodes

    @app.route("/api/v1/nodes", methods=["GET"])
    @endpoint
    async def list_nodes(self, request: Any, who: str) -> tuple[int, Any]:
        filters = {
            name: value
            for name in NODE_FILTERS
            if (value := query_text(request, name, None if name == "cluster" else POWER_STATES))
        }
        limit, after = _paging(request)
        items, cursor = await self.database.run(nodes.list_nodes, filters, limit, after)
        return 200, {"items": items, "next": _next(request, cursor)}

    @app.route("/api/v1/nodes", methods=["POST"])
    @endpoint
    async def create_node(self, request: Any, who: str) -> tuple[int, Any]:
        body = check_body("NodeCreate", read_json(request))
        node, reading = await self.database.run(actions.enrol_node, body, self.now(), power_types=self.power_types)
        if reading is not None:
            self.clusters.start_delivery([reading])
        request.setHeader(b"location", f"/api/v1/nodes/{node['id']}".encode())
        return 201, node

    @app.route("/api/v1/nodes/<node>", methods=["GET"])
    @endpoint
    async def get_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        return 200, await self.database.run(nodes.get_node, node)

    @app.route("/api/v1/nodes/<node>", methods=["PATCH"])
    @endpoint
    async def update_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        body = check_body("NodeUpdate", read_json(request))
        changed, reading = await self.database.run(
            actions.change_node, node, body, self.now(), power_types=self.power_types
        )
        if reading is not None:
            self.clusters.start_delivery([reading])
        if changed["moving_from"] is not None:
            self.clusters.release(changed["moving_from"], changed["id"])
        return 200, changed

    @app.route("/api/v1/nodes/<node>", methods=["DELETE"])
    @endpoint
    async def delete_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        deleting = await self.database.run(nodes.delete_node, node, self.now())
        return (204, None) if deleting is None else (202, deleting)

    # Power

    @app.route("/api/v1/nodes/<node>/power", methods=["POST"])
    @endpoint
    async def request_power(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        body = check_body("PowerRequest", read_json(request))
        action, created = await self.database.run(actions.request_power, node, body["action"], who, self.now())
        if not created:
            return 200, action
        self.clusters.start_delivery([action["id"]])
        request.setHeader(b"location", f"/api/v1/actions/{action['id']}".encode())
        return 202, action

    @app.route("/api/v1/power", methods=["POST"])
    @endpoint
    async def request_bulk(self, request: Any, who: str) -> tuple[int, Any]:
        body = check_body("BulkPowerRequest", read_json(request))
        if ("nodes" in body) == ("filter" in body):
            raise Invalid("nodes: give either nodes or filter", "nodes")
        if "nodes" in body and not body["nodes"]:
            raise Invalid("nodes: must name at least one node", "nodes")
        done = await self.database.run(
            actions.request_bulk, body.get("nodes"), body.get("filter"), body["action"], who, self.now()
        )
        self.clusters.start_delivery([a["id"] for a in done])
        return 202, {"actions": done}

    @app.route("/api/v1/nodes/<node>/actions", methods=["GET"])
    @endpoint
    async def list_node_actions(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        limit = query_int(request, "limit", 100, 1, 1000)
        before = query_int(request, "before", None, 0, BIG)
        items, cursor = await self.database.run(actions.list_node_actions, node, limit, before)
        return 200, {"items": items, "next": _next(request, cursor, "before")}

    @app.route("/api/v1/actions/<int:action>", methods=["GET"])
    @endpoint
    async def get_action(self, request: Any, who: str, action: int) -> tuple[int, Any]:
        return 200, await self.database.run(actions.get_action, action)

    @app.route("/api/v1/actions/<int:action>/cancel", methods=["POST"])
    @endpoint
    async def cancel_action(self, request: Any, who: str, action: int) -> tuple[int, Any]:
        result, cancelled = await self.database.run(actions.cancel_action, action, who, self.now())
        if not cancelled:
            node = await self.database.run(nodes.get_node, result["node"])
            self.clusters.cancel(node["cluster"], node["id"], action)
        return (200 if cancelled else 202), result

    # Events, drivers, the document

    @app.route("/api/v1/events", methods=["GET"])
    @endpoint
    async def list_events(self, request: Any, who: str) -> tuple[int, Any]:
        since = _time(query_text(request, "since"), "since")
        limit, after = _paging(request)
        items, cursor = await self.database.run(events.list_events, query_text(request, "node"), since, limit, after)
        return 200, {"items": items, "next": _next(request, cursor)}

    @app.route("/api/v1/clusters", methods=["GET"])
    @endpoint
    async def list_clusters(self, request: Any, who: str) -> tuple[int, Any]:
        rows = await self.database.run(list_clusters)
        return 200, {"items": self.clusters.describe(rows), "next": None}

    @app.route("/api/v1/drivers", methods=["GET"])
    @endpoint
    async def list_drivers(self, request: Any, who: str) -> tuple[int, Any]:
        return 200, self.power_types.describe()

    @app.route("/api/v1/openapi.json", methods=["GET"])
    def openapi(self, request: Any) -> bytes:
        return answer(request, 200, document())

    @app.handle_errors(NoRoute)
    def no_route(self, request: Any, failure: Any) -> bytes:
        return answer(request, 404, {"error": "no such path"})

    @app.handle_errors(MethodNotAllowed)
    def wrong_method(self, request: Any, failure: Any) -> bytes:
        allowed = sorted(getattr(failure.value, "valid_methods", None) or [])
        if allowed:
            request.setHeader(b"Allow", ", ".join(allowed).encode())
        return answer(request, 405, {"error": f"{request.method.decode()} is not allowed here"})


def _paging(request: Any) -> tuple[int, int | None]:
    return query_int(request, "limit", 100, 1, 1000), query_int(request, "after", None, 0, BIG)


def _next(request: Any, cursor: int | None, name: str = "after") -> str | None:
    """The path of the next page: this request's, with the cursor moved."""
    if cursor is None:
        return None
    args = {k.decode(): v[-1].decode() for k, v in request.args.items() if k != name.encode()}
    args[name] = str(cursor)
    return f"{request.path.decode()}?{urlencode(args)}"


def _time(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return utc(moment_from_iso(text))
    except ValueError:
        raise Invalid(f"{field}: must be an ISO 8601 time", field) from None
