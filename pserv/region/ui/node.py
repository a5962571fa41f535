"""
A node's page, ``GET /nodes/<node>`` (id or name): what it is and how
its power stands, its settings (a secret only as "set" or "not set"), the
power buttons and a cancel for what is in play, its actions and events,
newest first, in pages.  ``POST /nodes/<node>/power`` (form field
``action``) requests power and ``POST /actions/<int:action>/cancel``
cancels, each as the API does (:class:`~pserv.region.operations.Operations`),
then back to the page.

A mixin: the class serving it has ``database``, ``access``, ``contract``,
``power_types``, ``now()`` and :class:`~pserv.region.operations.Operations`.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import quote

from pserv.power.settings import REDACTED
from pserv.power.states import ActionKind
from pserv.region.auth import Credential, form_fields
from pserv.region.endpoints import page, redirect
from pserv.region.login import local_path
from pserv.region.permissions import allowed
from pserv.region.routes import Routes
from pserv.region.store import node_pages
from pserv.region.ui.settings_form import find_type
from pserv.region.ui.view import arg, show, whole_number

PAGE = 20
"""Actions, and events, on one page."""

CONFIRM = {ActionKind.OFF.value: "Switch {name} off now?", ActionKind.CYCLE.value: "Power-cycle {name} now?"}
"""The destructive buttons, and what the script asks before sending them."""


class NodePages:
    """``/nodes/<node>``, its power, and cancelling an action."""

    routes = Routes()

    @routes.route("/nodes/<node>", methods=["GET"])
    @page
    async def node_page(self, request: Any, credential: Credential, node: str) -> bytes:
        actions_before = whole_number(arg(request, "actions_before"), "actions_before")
        events_before = whole_number(arg(request, "events_before"), "events_before")
        view = await self.database.run(node_pages.node_view, node, PAGE, actions_before, events_before)
        shown = view["node"]
        role = credential.role
        return show(
            request, "node.html", credential, self.now(), section="nodes", view=view, node=shown,
            settings=shown_settings(self.power_types.describe(), shown["power_type"], shown["power_parameters"]),
            kinds=[k.value for k in ActionKind], confirm=CONFIRM,
            can_power=allowed(role, "POST", "/nodes/<node>/power"),
            can_cancel=allowed(role, "POST", "/actions/<int:action>/cancel"),
            can_edit=allowed(role, "GET", "/nodes/<node>/edit"),
        )

    @routes.route("/nodes/<node>/power", methods=["POST"])
    @page
    async def power_button(self, request: Any, credential: Credential, node: str) -> bytes:
        fields = form_fields(request)
        body = self.contract.body("PowerRequest", {"action": fields.get("action", "")})
        await self.ask_for_power(node, body["action"], credential.name)
        return redirect(request, f"/nodes/{quote(node, safe='')}")

    @routes.route("/actions/<int:action>/cancel", methods=["POST"])
    @page
    async def cancel_button(self, request: Any, credential: Credential, action: int) -> bytes:
        result, _ = await self.withdraw_action(action, credential.name)
        back = local_path(form_fields(request).get("next"))
        return redirect(request, back if back.startswith("/nodes/") else f"/nodes/{result['node']}")


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
