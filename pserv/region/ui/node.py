"""
A node's page, ``GET /nodes/<node>`` (id or name): what it is and how
its power stands, its settings (a secret only as "set" or "not set"), the
power buttons and a cancel for what is in play, its actions (who asked,
why, when, how long it took, how it ended) and events, newest first, in
pages.  ``POST /nodes/<node>/power`` (form fields ``action``, an
optional ``reason``, an optional ``not_before``, and, for a power type
that can set one, an optional ``boot_device`` and ``boot_persistent``,
which go with an ``on`` or a ``cycle`` only) requests power,
``POST /nodes/<node>/lock`` (``lock_reason``) and ``/unlock`` lock and
unlock the node, and ``POST /actions/<int:action>/cancel`` cancels, each
as the API does (:class:`~pserv.region.operations.Operations`), then back
to the page; a refusal (a bad reason, time or boot device, a locked node)
shows the page again with the error next to its field.

The page is live (:mod:`pserv.region.ui.live`): ``GET
/nodes/<node>/panels`` renders just its changing parts (the power facts,
the actions, the events; the same pages of them), which the script swaps
in when the node's events come.

A mixin: the class serving it has ``database``, ``access``, ``contract``,
``power_types``, ``now()`` and :class:`~pserv.region.operations.Operations`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from urllib.parse import quote

from pserv.power.boot import BOOT_KINDS, BootDevice
from pserv.power.settings import REDACTED
from pserv.power.states import ActionKind
from pserv.region.auth import Credential, form_fields
from pserv.region.endpoints import page, redirect
from pserv.region.errors import Conflict, RegionError
from pserv.region.login import local_path
from pserv.region.permissions import allowed
from pserv.region.power_api import boot_options
from pserv.region.routes import Routes
from pserv.region.store import node_pages
from pserv.region.store.common import utc
from pserv.region.store.locks import SWITCHING_OFF
from pserv.util.times import moment_from_rfc3339
from pserv.region.ui.live import Live, newest_then
from pserv.region.ui.settings_form import find_type
from pserv.region.ui.view import arg, link, show, whole_number

PAGE = 20
"""Actions, and events, on one page."""

CONFIRM = {ActionKind.OFF.value: "Switch {name} off now?", ActionKind.CYCLE.value: "Power-cycle {name} now?"}
"""The destructive buttons, and what the script asks before sending them."""

POWER_ROUTE = ("POST", "/nodes/<node>/power")
"""The permission the power form stands for."""

SHOWN_ON_PAGE = frozenset({"reason", "not_before", "action", "boot_device", "boot_persistent"})
"""The fields whose refusal the node page shows at its power form (``action``: only its 409, the node is locked)."""


def request_time(text: str | None) -> datetime | None:
    """A checked ``date-time`` of a form as the store keeps times."""
    return None if text is None else utc(moment_from_rfc3339(text))


class NodePages:
    """``/nodes/<node>``, its power, and cancelling an action."""

    routes = Routes()

    @routes.route("/nodes/<node>", methods=["GET"])
    @page
    async def node_page(self, request: Any, credential: Credential, node: str) -> bytes:
        return await self._node_page(request, credential, node)

    @routes.route("/nodes/<node>/panels", methods=["GET"])
    @page
    async def node_panels(self, request: Any, credential: Credential, node: str) -> bytes:
        _, view, _ = await self._node_view(request, node)
        context = self._node_context(credential, view)
        return show(request, "node_panels.html", credential, self.now(), **context)

    @routes.route("/nodes/<node>/power", methods=["POST"])
    @page
    async def power_button(self, request: Any, credential: Credential, node: str) -> bytes:
        fields = form_fields(request)
        reason, not_before = fields.get("reason", "").strip(), fields.get("not_before", "").strip()
        asked = {"action": fields.get("action", ""), **({"reason": reason} if reason else {}),
                 **({"not_before": not_before} if not_before else {}), **boot_fields(fields)}
        try:
            body = self.contract.body("PowerRequest", asked)
            await self.ask_for_power(node, body["action"], credential.name, reason=body.get("reason"),
                                     not_before=request_time(body.get("not_before")), **boot_options(body))
        except RegionError as e:
            if e.field not in SHOWN_ON_PAGE or (e.field == "action" and not isinstance(e, Conflict)):
                raise
            typed = {"reason": reason, "not_before": not_before}
            return await self._node_page(request, credential, node, e.status, {e.field: e.message}, typed)
        return redirect(request, f"/nodes/{quote(node, safe='')}")

    @routes.route("/nodes/<node>/lock", methods=["POST"])
    @page
    async def lock_button(self, request: Any, credential: Credential, node: str) -> bytes:
        reason = form_fields(request).get("lock_reason", "").strip()
        try:
            await self.lock_node_for(node, credential.name, reason)
        except RegionError as e:
            if e.field not in ("reason", "node") or e.status == 404:
                raise
            return await self._node_page(request, credential, node, e.status, {"lock_reason": e.message},
                                         {"lock_reason": reason})
        return redirect(request, f"/nodes/{quote(node, safe='')}")

    @routes.route("/nodes/<node>/unlock", methods=["POST"])
    @page
    async def unlock_button(self, request: Any, credential: Credential, node: str) -> bytes:
        try:
            await self.unlock_node_for(node, credential.name)
        except RegionError as e:
            if e.field != "node" or e.status == 404:
                raise
            return await self._node_page(request, credential, node, e.status, {"lock_reason": e.message})
        return redirect(request, f"/nodes/{quote(node, safe='')}")

    @routes.route("/actions/<int:action>/cancel", methods=["POST"])
    @page
    async def cancel_button(self, request: Any, credential: Credential, action: int) -> bytes:
        result, _ = await self.withdraw_action(action, credential.name)
        back = local_path(form_fields(request).get("next"))
        return redirect(request, back if back.startswith("/nodes/") else f"/nodes/{result['node']}")

    async def _node_page(self, request: Any, credential: Credential, node: str, status: int = 200,
                         errors: Mapping[str, str] | None = None, typed: Mapping[str, str] | None = None) -> bytes:
        """The node's page; ``errors`` (by field) and what was ``typed`` (by field) for a form refused."""
        newest, view, paged = await self._node_view(request, node)
        shown = view["node"]
        panels = link(f"/nodes/{shown['id']}/panels", paged)
        return show(
            request, "node.html", credential, self.now(), status, section="nodes",
            settings=shown_settings(self.power_types.describe(), shown["power_type"], shown["power_parameters"]),
            kinds=[k.value for k in ActionKind], confirm=CONFIRM, can_power=allowed(credential.role, *POWER_ROUTE),
            can_edit=allowed(credential.role, "GET", "/nodes/<node>/edit"), errors=errors or {},
            typed=typed or {}, switching_off=sorted(k.value for k in SWITCHING_OFF),
            can_lock=allowed(credential.role, "POST", "/nodes/<node>/lock"), live=Live("node", newest, panels, shown["id"]),
            boot_devices=[d.value for d in BootDevice] if self._can_set_boot(shown["power_type"]) else [],
            **self._node_context(credential, view),
        )

    def _can_set_boot(self, power_type: str) -> bool:
        """Whether nodes of ``power_type`` can be given a boot device (the form offers one only then)."""
        known = self.power_types.get(power_type)
        return known is not None and known.can_set_boot

    async def _node_view(self, request: Any, node: str) -> tuple[int, dict[str, Any], dict[str, int | None]]:
        """The newest event id, the node's view, and the pages of its actions and events asked for."""
        paged = {name: whole_number(arg(request, name), name) for name in ("actions_before", "events_before")}
        newest, view = await self.database.run(newest_then, node_pages.node_view, node, PAGE, *paged.values())
        return newest, view, paged

    def _node_context(self, credential: Credential, view: dict[str, Any]) -> dict[str, Any]:
        """What the node page and its panels both show."""
        return {"view": view, "node": view["node"],
                "can_cancel": allowed(credential.role, "POST", "/actions/<int:action>/cancel")}


def shown_settings(described: list[dict[str, Any]], power_type: str,
                   parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """
    A node's settings as its page lists them: each setting of its power
    type with its label and value (a secret only as ``set``/``not set``;
    one left out as its default), or, for a power type this region does
    not know, the parameters as the API shows them.
    """
    kind = find_type(described, power_type)
    if kind is None:
        return [{"name": n, "label": n, "value": v, "secret": v == REDACTED, "default": False}
                for n, v in sorted(parameters.items())]
    shown = []
    for s in kind["settings"]:
        value = parameters.get(s["name"])
        if s["secret"]:
            shown.append({**s, "value": "set" if value == REDACTED else "not set", "default": False})
        else:
            shown.append({**s, "value": s["default"] if value is None else value, "default": value is None})
    return shown


def boot_fields(fields: Mapping[str, str]) -> dict[str, Any]:
    """
    The boot device a power form chose, as a request's fields: only for an
    ``on`` or a ``cycle`` (the form's one choice goes with those buttons),
    none when "no change" was chosen; the persistence box only with a device.
    """
    device = fields.get("boot_device", "")
    if not device or fields.get("action") not in {kind.value for kind in BOOT_KINDS}:
        return {}
    return {"boot_device": device, "boot_persistent": fields.get("boot_persistent") == "on"}
