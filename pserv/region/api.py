"""
The REST API under ``/api/v1``, as ``pserv/region/openapi.py`` specifies it,
with its event stream (:mod:`pserv.region.stream`), and the UI's login
(:mod:`pserv.region.login`).

Every route is admitted through the permission table (a bearer token or a
session, the role, a session's CSRF token; :mod:`pserv.region.endpoints`),
validates, does its database work in one transaction off the reactor
thread, and answers JSON.  A refusal is a JSON ``{"error", "field"}`` with
400, 401, 403, 404, 409 or 413; anything else that goes wrong is logged
(never with a request body) and answered 500.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound as NoRoute

from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.region.admin_api import AdminAPI
from pserv.region.auth import CredentialCheck
from pserv.region.clusters import ConnectedClusters
from pserv.region.db import Database
from pserv.region.endpoints import check_routes, endpoint
from pserv.region.event_feed import EventFeed
from pserv.region.store.common import utc
from pserv.util.times import moment_from_rfc3339
from pserv.region.http import answer, next_page, read_json
from pserv.region.openapi import document
from pserv.region.login import LoginPages
from pserv.region.routes import Routes
from pserv.region.sessions import Sessions
from pserv.region.store.sessions import LIFETIME
from pserv.region.store import actions, events, nodes
from pserv.region.store.clusters import list_clusters
from pserv.region.stream import EventStreamAPI
from pserv.region.validation import Contract

NODE_FILTERS = ("cluster", "power_state", "desired_power_state")


class RegionAPI(AdminAPI, EventStreamAPI, LoginPages):
    """
    The API's routes, with whoami, users and tokens, the event stream, and
    the UI's login.

    :param clock: gives the times stored with requests and events, and
        drives the event feed's polls and the streams' keep-alives.
    :param power_types: the power types a node may have: the production
        ones unless a test or the simulation adds ``fake``.
    :param session_lifetime: seconds a UI session lasts.
    :param feed: the region's feed of new events, for the event streams;
        by default one of this API's own.
    """

    app = Routes(AdminAPI.routes, EventStreamAPI.routes, LoginPages.routes)

    def __init__(self, database: Database, clock: Any, clusters: ConnectedClusters | None = None,
                 power_types: PowerTypes = POWER_TYPES, session_lifetime: float = LIFETIME,
                 feed: EventFeed | None = None) -> None:
        check_routes(type(self).app)
        self.database = database
        self.clock = clock
        self.feed = feed if feed is not None else EventFeed(database, clock)
        self.access = CredentialCheck(database, clock)
        self.sessions = Sessions(database, clock, database.reactor, session_lifetime)
        self.clusters = clusters if clusters is not None else ConnectedClusters(database, clock)
        self.power_types = power_types
        self.contract = Contract(document(power_types))

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
        query = self.contract.query("listNodes", request)
        filters = {name: query[name] for name in NODE_FILTERS if query[name]}
        items, cursor = await self.database.run(nodes.list_nodes, filters, query["limit"], query["after"])
        return 200, {"items": items, "next": next_page(request, cursor)}

    @app.route("/api/v1/nodes", methods=["POST"])
    @endpoint
    async def create_node(self, request: Any, who: str) -> tuple[int, Any]:
        body = self.contract.body("NodeCreate", read_json(request))
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
        body = self.contract.body("NodeUpdate", read_json(request))
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
        body = self.contract.body("PowerRequest", read_json(request))
        action, created = await self.database.run(
            actions.request_power, node, body["action"], who, self.now(), escalate_after=body.get("escalate_after")
        )
        if not created:
            return 200, action
        self.clusters.start_delivery([action["id"]])
        request.setHeader(b"location", f"/api/v1/actions/{action['id']}".encode())
        return 202, action

    @app.route("/api/v1/power", methods=["POST"])
    @endpoint
    async def request_bulk(self, request: Any, who: str) -> tuple[int, Any]:
        body = self.contract.body("BulkPowerRequest", read_json(request))
        done = await self.database.run(
            actions.request_bulk, body.get("nodes"), body.get("filter"), body["action"], who, self.now(),
            escalate_after=body.get("escalate_after"),
        )
        self.clusters.start_delivery([a["id"] for a in done])
        return 202, {"actions": done}

    @app.route("/api/v1/nodes/<node>/actions", methods=["GET"])
    @endpoint
    async def list_node_actions(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        query = self.contract.query("listNodeActions", request)
        items, cursor = await self.database.run(actions.list_node_actions, node, query["limit"], query["before"])
        return 200, {"items": items, "next": next_page(request, cursor, "before")}

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
        query = self.contract.query("listEvents", request)
        since = _time(query["since"])
        items, cursor = await self.database.run(events.list_events, query["node"], since, query["limit"], query["after"])
        return 200, {"items": items, "next": next_page(request, cursor)}

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
        return answer(request, 200, self.contract.document)

    @app.handle_errors(NoRoute)
    def no_route(self, request: Any, failure: Any) -> bytes:
        return answer(request, 404, {"error": "no such path"})

    @app.handle_errors(MethodNotAllowed)
    def wrong_method(self, request: Any, failure: Any) -> bytes:
        allowed = sorted(getattr(failure.value, "valid_methods", None) or [])
        if allowed:
            request.setHeader(b"Allow", ", ".join(allowed).encode())
        return answer(request, 405, {"error": f"{request.method.decode()} is not allowed here"})


def _time(text: str | None) -> datetime | None:
    """A checked ``date-time`` argument as the store keeps times."""
    return None if text is None else utc(moment_from_rfc3339(text))
