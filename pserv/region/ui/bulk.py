"""
Bulk power from the nodes page, in two steps, and its batch's progress.

``POST /power/preview`` (the nodes page's bulk form: ``action``, the
ticked ``node`` ids, or ``all_matching`` with the filter as
``filter.NAME`` fields) is a dry run
(:func:`~pserv.region.store.batches.bulk_preview`, which writes nothing):
how many nodes the action names, how many it would change and how many
are already in its target state, a warning for the destructive actions,
the first few nodes' names, an optional reason (and, for an ``on`` or a
``cycle``, a boot device), and a button naming the
count ("Power off 12 nodes").  ``POST /power`` is that confirmed form,
the same selection in hidden fields: it asks for the power as the API does
(:meth:`~pserv.region.operations.Operations.ask_for_bulk_power`, one batch,
all or nothing) and goes to ``GET /batches/<batch>``: the batch's counts,
and its first actions with their nodes, live (``GET
/batches/<batch>/actions`` renders just the actions, for the script).

For a filter the confirmation carries the count it showed (``expected``);
if the filter matches another number of nodes by then, nothing is asked
and the preview is shown again with the new count (409).  Each form is
checked as the API checks its body (the contract's ``BulkPowerRequest``,
and the store's :func:`~pserv.region.store.actions.check_reason`): a bad
reason is shown next to its field (400).

A mixin: the class serving it has ``database``, ``contract``, ``now()``
and :class:`~pserv.region.operations.Operations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from pserv.power.boot import BOOT_KINDS, BootDevice
from pserv.power.states import ActionKind
from pserv.region.auth import Credential, form_values
from pserv.region.endpoints import page, redirect
from pserv.region.errors import Conflict, Invalid, RegionError
from pserv.region.power_api import boot_options
from pserv.region.routes import Routes
from pserv.region.store import batches
from pserv.region.store.actions import check_reason
from pserv.region.ui.formats import node_count
from pserv.region.ui.live import Live, newest_then
from pserv.region.ui.node import boot_fields, request_time
from pserv.region.ui.nodes import MOST_ROWS
from pserv.region.ui.view import link, show

SHOWN = 100
"""A batch's actions its page lists."""

FILTER = "filter."
"""What a filter's hidden field's name starts with."""

VERBS = {
    ActionKind.ON.value: "power on",
    ActionKind.OFF.value: "power off",
    ActionKind.CYCLE.value: "power-cycle",
    ActionKind.SOFT_OFF.value: "shut down",
    ActionKind.QUERY.value: "read the power of",
}
"""What each action does to nodes, in words: the confirmation's button
says it with the count ("Power off 12 nodes")."""

NAMED = 20
"""The nodes a preview names."""

WARNINGS = {
    ActionKind.OFF.value: "Power off cuts the power at once: whatever runs on these nodes stops without shutting "
                          "down, and work not saved is lost.",
    ActionKind.CYCLE.value: "Power-cycle cuts the power and switches it back on: whatever runs on these nodes stops "
                            "at once, without shutting down, and restarts.",
}
"""The destructive actions, and what the preview says of them."""

COUNTS = [
    ("pending", "waiting to be sent"), ("running", "in flight"), ("done", "done"), ("failed", "failed"),
    ("superseded", "superseded by a newer request"), ("cancelled", "cancelled"),
    ("timed_out", "timed out: the cluster may still carry them out"),
]
"""A batch's counts (each ``<output data-count=KEY>``) and what its page calls them."""

ENDED = ("done", "failed", "superseded", "cancelled")
"""The counts of actions that have ended."""


@dataclass(frozen=True)
class Selection:
    """
    The nodes a bulk form names: the ticked ``nodes`` (ids), or with
    ``all_matching`` every node ``filters`` match (no filter: every node).
    ``filters`` are the nodes page's either way, to go back to it.
    """

    nodes: list[int]
    all_matching: bool
    filters: dict[str, str]

    @property
    def empty(self) -> bool:
        """Whether it names no node at all."""
        return not self.nodes and not self.all_matching

    @property
    def named(self) -> tuple[list[int] | None, dict[str, str] | None]:
        """The ``refs`` and ``filters`` of the store's bulk request."""
        return (None, self.filters) if self.all_matching else (self.nodes, None)

    def body(self, kind: str) -> dict[str, Any]:
        """The API's body asking ``kind`` of this selection."""
        return {"action": kind, "filter": self.filters} if self.all_matching else {"action": kind, "nodes": self.nodes}

    def fields(self) -> list[tuple[str, str]]:
        """The hidden fields that carry it to the next form."""
        carried = [(FILTER + name, value) for name, value in self.filters.items()]
        if self.all_matching:
            return [*carried, ("all_matching", "1")]
        return [*carried, *(("node", str(n)) for n in self.nodes)]

    @property
    def back(self) -> str:
        """The nodes page it was chosen on."""
        return link("/nodes", self.filters)


def selection(form: Mapping[str, list[str]]) -> Selection:
    """
    The selection a bulk form names.

    :raises Invalid: naming ``node`` for an id that is not one, or more than
        :data:`~pserv.region.ui.nodes.MOST_ROWS` of them.
    """
    ticked = [v.strip() for v in form.get("node", []) if v.strip()]
    if len(ticked) > MOST_ROWS or not all(v.isascii() and v.isdigit() and len(v) <= 10 for v in ticked):
        raise Invalid(f"node: 1 to {MOST_ROWS} node ids", "node")
    filters = {name.removeprefix(FILTER): values[-1] for name, values in form.items()
               if name.startswith(FILTER) and values[-1]}
    return Selection(sorted({int(v) for v in ticked}), form.get("all_matching", [""])[-1] == "1", filters)


def said(kind: str, count: int, first: bool = True) -> str:
    """
    An action on so many nodes, as the confirmation's button says it:
    ``Power off 12 nodes`` (``first`` false: ``power off 12 nodes``).
    """
    words = f"{VERBS[kind]} {node_count(count)}"
    return words[0].upper() + words[1:] if first else words


def _last(form: Mapping[str, list[str]], name: str) -> str:
    return form.get(name, [""])[-1]


class BulkPages:
    """``/power/preview``, ``/power`` and ``/batches/<batch>``."""

    routes = Routes()

    @routes.route("/power/preview", methods=["POST"])
    @page
    async def bulk_preview_form(self, request: Any, credential: Credential) -> bytes:
        form = form_values(request)
        chosen = selection(form)
        if chosen.empty:
            return show(request, "bulk_preview.html", credential, self.now(), 400, section="nodes", chosen=chosen,
                        kind=None, preview=None)
        kind = self.contract.body("BulkPowerRequest", chosen.body(_last(form, "action")))["action"]
        return await self._preview_page(request, credential, chosen, kind)

    @routes.route("/power", methods=["POST"])
    @page
    async def bulk_power_form(self, request: Any, credential: Credential) -> bytes:
        form = form_values(request)
        chosen = selection(form)
        if chosen.empty:
            raise Invalid("node: no node is selected", "node")
        reason = _last(form, "reason").strip() or None
        not_before = _last(form, "not_before").strip()
        kind = self.contract.body("BulkPowerRequest", chosen.body(_last(form, "action")))["action"]
        typed = {"reason": reason or "", "not_before": not_before}
        try:
            check_reason(reason)
            if not_before:
                self.contract.body("BulkPowerRequest", {**chosen.body(kind), "not_before": not_before})
        except Invalid as e:
            return await self._preview_page(request, credential, chosen, kind, e.status, {e.field: e.message}, typed)
        expected = _last(form, "expected")
        if chosen.all_matching and expected.isdigit():
            preview = await self.database.run(batches.bulk_preview, *chosen.named, kind)
            if preview["nodes"] != int(expected):
                return await self._preview_page(request, credential, chosen, kind, 409, typed=typed,
                                                changed_from=int(expected))
        boot = boot_fields({"action": kind, **{name: _last(form, name) for name in ("boot_device", "boot_persistent")}})
        try:
            batch, _, _ = await self.ask_for_bulk_power(*chosen.named, kind, credential.name, reason=reason,
                                                        not_before=request_time(not_before or None),
                                                        **boot_options(boot))
        except RegionError as e:
            if e.field not in ("boot_device", "boot_persistent", "not_before") and not (
                    isinstance(e, Conflict) and e.field == "action"):
                raise
            return await self._preview_page(request, credential, chosen, kind, e.status, {e.field: e.message}, typed)
        return redirect(request, f"/batches/{batch}")

    @routes.route("/batches/<int:batch>", methods=["GET"])
    @page
    async def batch_page(self, request: Any, credential: Credential, batch: int) -> bytes:
        newest, (found, listed) = await self.database.run(newest_then, _batch, batch)
        return show(request, "batch.html", credential, self.now(), section="nodes", batch=found, actions=listed,
                    shown=SHOWN, counts=COUNTS, ended=ENDED, title=said(found["action"], found["size"], False),
                    live=Live("batch", newest, f"/batches/{batch}/actions"))

    @routes.route("/batches/<int:batch>/actions", methods=["GET"])
    @page
    async def batch_actions_part(self, request: Any, credential: Credential, batch: int) -> bytes:
        found, listed = await self.database.run(_batch, batch)
        return show(request, "batch_actions.html", credential, self.now(), batch=found, actions=listed, shown=SHOWN)

    async def _preview_page(self, request: Any, credential: Credential, chosen: Selection, kind: str,
                            status: int = 200, errors: Mapping[str, str] | None = None,
                            typed: Mapping[str, str] | None = None, changed_from: int | None = None) -> bytes:
        """The dry run's counts and the confirmation form."""
        preview, names = await self.database.run(_read_preview, chosen, kind)
        return show(request, "bulk_preview.html", credential, self.now(), status, section="nodes", chosen=chosen,
                    kind=kind, preview=preview, names=names, button=said(kind, preview["nodes"]),
                    warning=WARNINGS.get(kind), errors=errors or {}, typed=typed or {},
                    boot_devices=[d.value for d in BootDevice] if kind in {k.value for k in BOOT_KINDS} else [],
                    changed_from=changed_from)


def _read_preview(connection: Any, chosen: Selection, kind: str) -> tuple[dict[str, Any], list[str]]:
    return batches.bulk_preview(connection, *chosen.named, kind), batches.bulk_names(connection, *chosen.named, NAMED)


def _batch(connection: Any, batch: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return batches.get_batch(connection, batch), batches.batch_actions(connection, batch, SHOWN)
