"""
The nodes page, ``GET /nodes``: every node with its desired and observed
power (and how old that observation is), the action in play and the last
failure; filtered (``cluster``, ``power_type``, ``power_state``,
``desired_power_state``), searched (``q``, part of the name), sorted
(``sort``: a column, ``-`` first for descending) and in pages of 50
(``page``).  ``GET /nodes/rows?ids=1,2`` renders just those nodes' rows,
with the same macro, for a script to refresh them in place: the page is
live (:mod:`pserv.region.ui.live`), and ``/static/pserv.js`` fetches the
rows of the nodes events name.

The table sits in the bulk form (``POST /power/preview``): a checkbox per
row (``node``, its id), ``all_matching`` (every node the filter matches,
given as ``filter.NAME`` fields) and a button per action (``action``).

A mixin: the class serving it has ``database``, ``access``,
``power_types`` and ``now()``.
"""

from __future__ import annotations

from typing import Any

from pserv.power.states import ActionKind, PowerState
from pserv.region.auth import Credential
from pserv.region.endpoints import page
from pserv.region.errors import Invalid
from pserv.region.permissions import allowed
from pserv.region.routes import Routes
from pserv.region.store import node_pages
from pserv.region.store.nodes import NODE_FILTERS
from pserv.region.ui.live import Live, newest_then
from pserv.region.ui.view import arg, link, show, whole_number

MOST_ROWS = 500
"""The most node ids ``/nodes/rows`` takes at once."""

BULK_ROUTE = ("POST", "/power")
"""The permission the bulk form's buttons stand for: the confirmed bulk
request (:mod:`pserv.region.ui.bulk`)."""


def can_power(credential: Credential | None) -> bool:
    """Whether ``credential`` may ask for power: the nodes' checkboxes and buttons are shown."""
    return credential is not None and allowed(credential.role, *BULK_ROUTE)


class NodesPages:
    """``/nodes`` and ``/nodes/rows``."""

    routes = Routes()

    @routes.route("/nodes", methods=["GET"])
    @page
    async def nodes_page(self, request: Any, credential: Credential) -> bytes:
        filters = {name: value for name in NODE_FILTERS if (value := arg(request, name))}
        sort = arg(request, "sort") or "name"
        descending, key = sort.startswith("-"), sort.removeprefix("-")
        number = whole_number(arg(request, "page"), "page", 1)
        newest, view = await self.database.run(newest_then, node_pages.nodes_view, filters, key, descending, number)
        args = {**filters, "sort": sort if sort != "name" else None}
        return show(
            request, "nodes.html", credential, self.now(), view=view, filters=filters, sort=key,
            descending=descending, args=args, link=link, power_types=list(self.power_types),
            states=[s.value for s in PowerState], kinds=[k.value for k in ActionKind],
            can_power=can_power(credential), can_add=allowed(credential.role, "GET", "/nodes/new"),
            live=Live("nodes", newest, "/nodes/rows"),
        )

    @routes.route("/nodes/rows", methods=["GET"])
    @page
    async def node_rows(self, request: Any, credential: Credential) -> bytes:
        ids = node_ids(arg(request, "ids"))
        rows = await self.database.run(node_pages.node_rows, ids)
        return show(request, "node_rows.html", credential, self.now(), nodes=rows, can_power=can_power(credential))


def node_ids(text: str) -> list[int]:
    """
    The ids of ``ids=1,2,3``: 1 to :data:`MOST_ROWS` of them.

    :raises Invalid: naming ``ids`` otherwise.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or len(parts) > MOST_ROWS or not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts):
        raise Invalid(f"ids: 1 to {MOST_ROWS} node ids, separated by commas", "ids")
    return [int(p) for p in parts]
