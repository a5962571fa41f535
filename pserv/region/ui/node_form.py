"""
Adding and editing a node: ``GET /nodes/new`` and ``GET
/nodes/<node>/edit`` show the form for a power type (``?power_type=`` picks
another: without JavaScript its own little GET form does, with it
changing the select does), generated from the type's settings
(:mod:`pserv.region.ui.settings_form`); the POSTs check the form as the
API checks a body (the contract's ``NodeCreate`` and ``NodeUpdate``, then
the store) and go to the node's page, or show the form again with each
error next to its field, what was typed kept (never a secret), and the
error's status.

An edit form carries the node's ``version`` (hidden); saving passes it
on (``expected_version``), so a node changed by someone else since the
form was read is not overwritten: the form comes back (409) saying so,
with what now differs between the node and the form, still holding what
was typed and now carrying the current version, so saving again applies
it deliberately.

A mixin: the class serving it has ``database``, ``access``, ``contract``,
``power_types``, ``now()`` and :class:`~pserv.region.operations.Operations`.
"""

from __future__ import annotations

from typing import Any, Mapping

from pserv.region.auth import Credential, form_fields
from pserv.region.endpoints import page, redirect
from pserv.region.errors import PreconditionFailed, RegionError
from pserv.region.routes import Routes
from pserv.region.store import nodes
from pserv.region.ui.formats import node_path
from pserv.region.ui.settings_form import (
    SettingField, blank_fields, field_key, find_type, parameters_of, stored_fields, submitted_fields,
)
from pserv.region.ui.view import arg, show, whole_number

DRIFT_POLICIES = ("observe", "enforce")
LABELS = {"name": "Name", "group": "Group", "cluster": "Cluster", "drift_policy": "When the power drifts", "power_type": "Power type"}
"""The node's own fields, as the form labels them."""
CONFLICT = 409
"""The status of an edit refused because the node changed since its form was read: the form
is shown again, holding what was typed and the node's current version."""
NODE_FIELDS = ("name", "group", "cluster", "drift_policy")
"""The form's fields that are not settings."""


class NodeFormPages:
    """``/nodes/new`` and ``/nodes/<node>/edit``."""

    routes = Routes()

    @routes.route("/nodes/new", methods=["GET"])
    @page
    async def new_node_form(self, request: Any, credential: Credential) -> bytes:
        kind, error = self._chosen(arg(request, "power_type"))
        fields = [] if kind is None else blank_fields(kind)
        return self._form(request, credential, None, kind, {"drift_policy": "observe"}, fields,
                          {"power_type": error} if error else {}, 400 if error else 200)

    @routes.route("/nodes/new", methods=["POST"])
    @page
    async def add_node(self, request: Any, credential: Credential) -> bytes:
        form = form_fields(request)
        kind, error = self._chosen(form.get("power_type", ""))
        if kind is None:
            return self._form(request, credential, None, None, form, [], {"power_type": error}, 400)
        body = {**_node_fields(form, editing=False), "power_type": kind["name"],
                "power_parameters": parameters_of(kind, form)}
        try:
            node = await self.enrol_node(self.contract.body("NodeCreate", body))
        except RegionError as e:
            errors = {field_key(kind, e.field) or "": e.message}
            return self._form(request, credential, None, kind, form, submitted_fields(kind, form, errors), errors,
                              e.status)
        return redirect(request, node_path(node))

    @routes.route("/nodes/<node>/edit", methods=["GET"])
    @page
    async def edit_node_form(self, request: Any, credential: Credential, node: str) -> bytes:
        found = await self.database.run(nodes.get_node, node)
        kind, error = self._chosen(arg(request, "power_type") or found["power_type"])
        fields = [] if kind is None else stored_fields(kind, found["power_parameters"])
        return self._form(request, credential, found, kind, found, fields,
                          {"power_type": error} if error else {}, 400 if error else 200)

    @routes.route("/nodes/<node>/edit", methods=["POST"])
    @page
    async def change_node_form(self, request: Any, credential: Credential, node: str) -> bytes:
        found = await self.database.run(nodes.get_node, node)
        form = form_fields(request)
        kind, error = self._chosen(form.get("power_type", ""))
        if kind is None:
            return self._form(request, credential, found, None, form, [], {"power_type": error}, 400)
        body = {**_node_fields(form, editing=True), "power_type": kind["name"],
                "power_parameters": parameters_of(kind, form)}
        try:
            version = whole_number(form.get("version", "").strip(), "version")
            changed = await self.change_node(node, self.contract.body("NodeUpdate", body), expected_version=version)
        except PreconditionFailed:
            now = await self.database.run(nodes.get_node, node)
            conflict = {"read": version, "now": now["version"], "rows": differences(now, kind, form)}
            fields = submitted_fields(kind, form, {}, now["power_parameters"])
            return self._form(request, credential, now, kind, form, fields, {}, CONFLICT, conflict)
        except RegionError as e:
            errors = {field_key(kind, e.field) or "": e.message}
            fields = submitted_fields(kind, form, errors, found["power_parameters"])
            return self._form(request, credential, found, kind, form, fields, errors, e.status)
        return redirect(request, node_path(changed))

    def _chosen(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """The power type ``name`` (the first one if empty), or why there is none."""
        described = self.power_types.describe()
        if not name:
            return described[0], None
        found = find_type(described, name)
        if found is None:
            known = ", ".join(d["name"] for d in described)
            return None, f"power_type: unknown driver {name!r}; known: {known}"
        return found, None

    def _form(self, request: Any, credential: Credential, node: dict[str, Any] | None, kind: dict[str, Any] | None,
              values: Mapping[str, Any], fields: list, errors: Mapping[str, str], status: int,
              conflict: Mapping[str, Any] | None = None) -> bytes:
        """
        The form, for a new node (``node`` None) or an edit (carrying
        ``node``'s version), with ``errors`` by input name, and the
        ``conflict`` with a change made meanwhile, if that refused it.
        """
        base = "/nodes/new" if node is None else f"{node_path(node)}/edit"
        unplaced = [message for key, message in errors.items() if key not in _placed(fields)]
        return show(
            request, "node_form.html", credential, self.now(), status, section="nodes", node=node, kind=kind,
            values={k: "" if values.get(k) is None else str(values.get(k)) for k in NODE_FIELDS},
            fields=fields, errors=errors, unplaced=unplaced, action=base, types=self.power_types.describe(),
            drift_policies=DRIFT_POLICIES, version=None if node is None else node.get("version"), conflict=conflict,
        )


def differences(now: Mapping[str, Any], kind: dict[str, Any], form: Mapping[str, str]) -> list[dict[str, str]]:
    """
    Where a node as it is ``now`` and an edit form (for the power type
    ``kind``) differ, each as ``field``, ``label``, ``now`` and ``yours``
    (what the form says) in words; secrets are never compared, nor shown.
    An empty setting means its default, as saving it would.
    """
    typed = {**_node_fields(form, editing=True), "power_type": kind["name"]}
    rows = [_row(key, label, now.get(key), typed.get(key)) for key, label in LABELS.items()]
    if now["power_type"] == kind["name"]:
        stored = {f.key: f for f in stored_fields(kind, now["power_parameters"])}
        for f in submitted_fields(kind, form, {}):
            if not f.setting["secret"]:
                rows.append(_row(f.key, f.setting["label"], _setting(stored[f.key]), _setting(f)))
    return [row for row in rows if row["now"] != row["yours"]]


def _row(field: str, label: str, now: Any, yours: Any) -> dict[str, str]:
    return {"field": field, "label": label, "now": "none" if now in (None, "") else str(now),
            "yours": "none" if yours in (None, "") else str(yours)}


def _setting(field: SettingField) -> str:
    """A setting's field as words: yes or no for a checkbox, else its value (empty: its default)."""
    if field.input_type == "checkbox":
        return "yes" if field.checked else "no"
    default = field.setting["default"]
    return field.value or ("" if default is None else str(default))


def _placed(fields: list) -> set[str]:
    """The inputs an error can be shown next to."""
    return {"name", "group", "cluster", "drift_policy", "power_type", *(f.key for f in fields)}


def _node_fields(form: Mapping[str, str], editing: bool) -> dict[str, Any]:
    """
    The node's own fields of a form, as the API takes them: no group or
    cluster is ``null``; with a group the cluster is the group's to choose,
    so the form's is not sent.
    """
    body: dict[str, Any] = {"name": form.get("name", "").strip()}
    group = form.get("group", "").strip()
    if group or editing:
        body["group"] = group or None
    cluster = form.get("cluster", "").strip()
    if not group and (cluster or editing):
        body["cluster"] = cluster or None
    policy = form.get("drift_policy", "")
    if policy:
        body["drift_policy"] = policy
    return body
