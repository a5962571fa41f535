"""
The REST API under ``/api/v1``, as ``pserv/region/openapi.py`` specifies it
(power in :mod:`pserv.region.power_api`, who is asking, users and tokens in
:mod:`pserv.region.admin_api`, the event stream in
:mod:`pserv.region.stream`), the UI's login (:mod:`pserv.region.login`)
and its pages (:mod:`pserv.region.ui`).

Every route is admitted through the permission table (a bearer token or a
session, the role, a session's CSRF token; :mod:`pserv.region.endpoints`),
validates, does its database work in one transaction off the reactor
thread, and answers JSON.  A refusal is a JSON ``{"error", "field"}`` with
400, 401, 403, 404, 409, 412 or 413; anything else that goes wrong is
logged (never with a request body) and answered 500.  A node's answers
carry its version as ``ETag``; a change with ``If-Match`` is made only
from that version.
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
from pserv.region.endpoints import check_routes, endpoint, text
from pserv.region.event_feed import EventFeed
from pserv.region.store.common import utc
from pserv.util.times import moment_from_rfc3339
from pserv.region.http import answer, next_page, read_json
from pserv.region.openapi import document
from pserv.region.login import LoginPages
from pserv.region.metrics import CONTENT_TYPE, RegionMetrics
from pserv.region.operations import Operations
from pserv.region.power_api import PowerAPI
from pserv.region.routes import Routes
from pserv.region.sessions import Sessions
from pserv.region.store.sessions import LIFETIME
from pserv.region.store import events, nodes
from pserv.region.store.clusters import list_clusters, set_draining
from pserv.region.stream import EventStreamAPI
from pserv.region.ui.errors import is_page, missing_page, wrong_method_page
from pserv.region.ui.admin import AdminPages
from pserv.region.ui.bulk import BulkPages
from pserv.region.ui.clusters import ClustersPage
from pserv.region.ui.node import NodePages
from pserv.region.ui.node_form import NodeFormPages
from pserv.region.ui.nodes import NodesPages
from pserv.region.ui.static import StaticFiles
from pserv.region.validation import Contract


class RegionAPI(Operations, PowerAPI, AdminAPI, EventStreamAPI, LoginPages, NodesPages, NodePages, NodeFormPages,
                BulkPages, ClustersPage, AdminPages, StaticFiles):
    """
    The API's routes, with power, whoami, users and tokens, the event
    stream, and the UI's login and pages.

    :param clock: gives the times stored with requests and events, and
        drives the event feed's polls and the streams' keep-alives.
    :param power_types: the power types a node may have: the production
        ones unless a test or the simulation adds ``fake``.
    :param session_lifetime: seconds a UI session lasts.
    :param feed: the region's feed of new events, for the event streams;
        by default one of this API's own.
    :param metrics: what ``GET /metrics`` serves: the region's, or by
        default the connected clusters' (the reports and actions they count).
    """

    app = Routes(PowerAPI.routes, AdminAPI.routes, EventStreamAPI.routes, LoginPages.routes, NodesPages.routes,
                 NodeFormPages.routes, NodePages.routes, BulkPages.routes, ClustersPage.routes, AdminPages.routes,
                 StaticFiles.routes)

    def __init__(self, database: Database, clock: Any, clusters: ConnectedClusters | None = None,
                 power_types: PowerTypes = POWER_TYPES, session_lifetime: float = LIFETIME,
                 feed: EventFeed | None = None, metrics: RegionMetrics | None = None) -> None:
        check_routes(type(self).app)
        self.database = database
        self.clock = clock
        self.feed = feed if feed is not None else EventFeed(database, clock)
        self.access = CredentialCheck(database, clock)
        self.sessions = Sessions(database, clock, database.reactor, session_lifetime)
        self.clusters = clusters if clusters is not None else ConnectedClusters(database, clock)
        self.metrics = metrics if metrics is not None else self.clusters.metrics
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
        filters = {name: query[name] for name in nodes.NODE_FILTERS if query[name]}
        items, cursor = await self.database.run(nodes.list_nodes, filters, query["limit"], query["after"])
        return 200, {"items": items, "next": next_page(request, cursor)}

    @app.route("/api/v1/nodes", methods=["POST"])
    @endpoint
    async def create_node(self, request: Any, who: str) -> tuple[int, Any]:
        node = await self.enrol_node(self.contract.body("NodeCreate", read_json(request)))
        request.setHeader(b"location", f"/api/v1/nodes/{node['id']}".encode())
        return 201, node

    @app.route("/api/v1/nodes/<node>", methods=["GET"])
    @endpoint
    async def get_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        return 200, _tagged(request, await self.database.run(nodes.get_node, node))

    @app.route("/api/v1/nodes/<node>", methods=["PATCH"])
    @endpoint
    async def update_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        match = self.contract.header("updateNode", request, "If-Match")
        body = self.contract.body("NodeUpdate", read_json(request))
        expected = None if match in (None, "*") else int(match.strip('"'))
        return 200, _tagged(request, await self.change_node(node, body, expected_version=expected))

    @app.route("/api/v1/nodes/<node>", methods=["DELETE"])
    @endpoint
    async def delete_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        deleting = await self.database.run(nodes.delete_node, node, self.now())
        return (204, None) if deleting is None else (202, deleting)

    # Events, drivers, the document

    @app.route("/api/v1/events", methods=["GET"])
    @endpoint
    async def list_events(self, request: Any, who: str) -> tuple[int, Any]:
        query = self.contract.query("listEvents", request)
        items, cursor = await self.database.run(
            events.list_events, query["node"], _time(query["since"]), query["limit"], query["after"],
            before=query["before"], order=query["order"],
        )
        cursor_name = "before" if query["order"] == "desc" else "after"
        return 200, {"items": items, "next": next_page(request, cursor, cursor_name)}

    @app.route("/api/v1/clusters", methods=["GET"])
    @endpoint
    async def list_clusters(self, request: Any, who: str) -> tuple[int, Any]:
        rows = await self.database.run(list_clusters, self.clusters.now())
        return 200, {"items": rows, "next": None}

    @app.route("/api/v1/clusters/<cluster>", methods=["PATCH"])
    @endpoint
    async def update_cluster(self, request: Any, who: str, cluster: str) -> tuple[int, Any]:
        body = self.contract.body("ClusterUpdate", read_json(request))
        return 200, await self.database.run(set_draining, cluster, body["draining"], self.now())

    @app.route("/api/v1/drivers", methods=["GET"])
    @endpoint
    async def list_drivers(self, request: Any, who: str) -> tuple[int, Any]:
        return 200, self.power_types.describe()

    @app.route("/metrics", methods=["GET"])
    @text
    async def metrics_text(self, request: Any, who: str) -> tuple[bytes, bytes]:
        return CONTENT_TYPE, self.metrics.exposition()

    @app.route("/api/v1/openapi.json", methods=["GET"])
    def openapi(self, request: Any) -> bytes:
        return answer(request, 200, self.contract.document)

    @app.handle_errors(NoRoute)
    def no_route(self, request: Any, failure: Any) -> bytes:
        if is_page(request):
            return missing_page(request)
        return answer(request, 404, {"error": "no such path"})

    @app.handle_errors(MethodNotAllowed)
    def wrong_method(self, request: Any, failure: Any) -> bytes:
        allowed = sorted(getattr(failure.value, "valid_methods", None) or [])
        if allowed:
            request.setHeader(b"Allow", ", ".join(allowed).encode())
        if is_page(request):
            return wrong_method_page(request)
        return answer(request, 405, {"error": f"{request.method.decode()} is not allowed here"})


def _tagged(request: Any, node: dict[str, Any]) -> dict[str, Any]:
    """``node``, its version set as the answer's ``ETag``."""
    request.setHeader(b"etag", f'"{node["version"]}"'.encode())
    return node


def _time(text: str | None) -> datetime | None:
    """A checked ``date-time`` argument as the store keeps times."""
    return None if text is None else utc(moment_from_rfc3339(text))
