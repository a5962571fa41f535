"""
The API's routes for power: a node's power request, the bulk request (and
its dry run) and its batch, and reading and cancelling actions.  Every
request is committed before it is answered; a bulk request, with its
batch, in one transaction.

A mixin: the class serving it has ``database``, ``contract``, the
:class:`~pserv.region.operations.Operations` (what the API and the UI's
pages both do) and ``app = Routes(PowerAPI.routes, ...)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pserv.region.auth import Requester
from pserv.region.endpoints import endpoint, endpoint_in_transaction
from pserv.region.http import next_page, read_json
from pserv.region.routes import Routes
from pserv.region.store import actions, batches
from pserv.region.store.common import utc
from pserv.util.times import moment_from_rfc3339


def boot_options(body: dict[str, Any]) -> dict[str, Any]:
    """A checked power request's boot fields, for the store (none if it names no boot device)."""
    if "boot_device" not in body:
        return {}
    return {"boot_device": body["boot_device"], "boot_persistent": body.get("boot_persistent")}


class PowerAPI:
    """Power requests, bulk requests and their batches, and actions."""

    routes = Routes()

    @routes.route("/api/v1/nodes/<node>/power", methods=["POST"])
    @endpoint_in_transaction
    async def request_power(self, request: Any, who: Requester, node: str) -> tuple[int, Any]:
        body = self.contract.body("PowerRequest", read_json(request))
        action, created = await self.ask_for_power(
            node, body["action"], who, escalate_after=body.get("escalate_after"), reason=body.get("reason"),
            **boot_options(body),
            not_before=_time(body.get("not_before")),
        )
        if not created:
            return 200, action
        request.setHeader(b"location", f"/api/v1/actions/{action['id']}".encode())
        return 202, action

    @routes.route("/api/v1/power", methods=["POST"])
    @endpoint
    async def request_bulk(self, request: Any, who: str) -> tuple[int, Any]:
        body = self.contract.body("BulkPowerRequest", read_json(request))
        named = body.get("nodes"), body.get("filter")
        if body.get("dry_run"):
            return 200, await self.database.run(batches.bulk_preview, *named, body["action"])
        batch, done, locked = await self.ask_for_bulk_power(
            *named, body["action"], who, escalate_after=body.get("escalate_after"), reason=body.get("reason"),
            **boot_options(body),
            not_before=_time(body.get("not_before")),
        )
        return 202, {"batch": batch, "actions": done, "locked": locked}

    @routes.route("/api/v1/nodes/<node>/lock", methods=["POST"])
    @endpoint
    async def lock_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        body = self.contract.body("LockRequest", read_json(request))
        return 200, await self.lock_node_for(node, who, body["reason"])

    @routes.route("/api/v1/nodes/<node>/unlock", methods=["POST"])
    @endpoint
    async def unlock_node(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        return 200, await self.unlock_node_for(node, who)

    @routes.route("/api/v1/batches/<int:batch>", methods=["GET"])
    @endpoint
    async def get_batch(self, request: Any, who: str, batch: int) -> tuple[int, Any]:
        return 200, await self.database.run(batches.get_batch, batch)

    @routes.route("/api/v1/nodes/<node>/actions", methods=["GET"])
    @endpoint
    async def list_node_actions(self, request: Any, who: str, node: str) -> tuple[int, Any]:
        query = self.contract.query("listNodeActions", request)
        items, cursor = await self.database.run(actions.list_node_actions, node, query["limit"], query["before"])
        return 200, {"items": items, "next": next_page(request, cursor, "before")}

    @routes.route("/api/v1/actions", methods=["GET"])
    @endpoint
    async def list_actions(self, request: Any, who: str) -> tuple[int, Any]:
        query = self.contract.query("listActions", request)
        return 200, {"items": await self.database.run(actions.list_actions, query["ids"]), "next": None}

    @routes.route("/api/v1/actions/<int:action>", methods=["GET"])
    @endpoint
    async def get_action(self, request: Any, who: str, action: int) -> tuple[int, Any]:
        return 200, await self.database.run(actions.get_action, action)

    @routes.route("/api/v1/actions/<int:action>/cancel", methods=["POST"])
    @endpoint
    async def cancel_action(self, request: Any, who: str, action: int) -> tuple[int, Any]:
        result, cancelled = await self.withdraw_action(action, who)
        return (200 if cancelled else 202), result


def _time(text: str | None) -> datetime | None:
    """A checked ``date-time`` of a request's body as the store keeps times."""
    return None if text is None else utc(moment_from_rfc3339(text))
