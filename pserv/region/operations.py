"""
What the API and the web UI both do to nodes and power, each in one
place: the change committed in the store (one transaction, off the
reactor thread), then carried to the clusters (the actions handed over,
a cancel or a move's release sent).  The API's endpoints and the UI's
pages differ only in how they read the request and answer it.

A mixin: the class using it has ``database``, ``clusters``
(:class:`~pserv.region.clusters.ConnectedClusters`), ``power_types`` and
``now()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy.engine import Connection

from pserv.region.auth import Requester, requester
from pserv.region.store import actions, locks, nodes
from pserv.region.store.ended import Ended, ended_of, superseded_by
from pserv.util.times import moment_from_iso


class Operations:
    """Enrolling and changing nodes, requesting power (for one node or many), cancelling."""

    async def enrol_node(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a node from a checked body; its first power read is handed to its cluster."""
        node, reading = await self.database.run(actions.enrol_node, body, self.now(), power_types=self.power_types)
        if reading is not None:
            self.clusters.start_delivery([reading])
        return node

    async def change_node(self, ref: str, body: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        """
        Change a node from a checked body; a power read it needs is handed
        over, and the cluster it moves from asked to give it up.

        :param options: passed to the store's ``change_node``.
        """
        changed, reading = await self.database.run(
            actions.change_node, ref, body, self.now(), power_types=self.power_types, **options
        )
        if reading is not None:
            self.clusters.start_delivery([reading])
        if changed["moving_from"] is not None:
            self.clusters.release(changed["moving_from"], changed["id"])
        return changed

    async def ask_for_power(self, ref: str, kind: str, who: Requester, **options: Any) -> tuple[dict[str, Any], bool]:
        """
        Commit a power request by ``who`` for node ``ref``; a new action is
        handed to the node's cluster.

        :param who: who asks, or a bearer token to check in the request's
            own transaction (:func:`~pserv.region.auth.requester`).
        :param options: passed to the store's ``request_power`` (``escalate_after``, ``reason``,
            ``not_before``); an action held for its time is handed over then.
        :return: the action, and whether it is new (``False``: the same
            request was in play, and this one joined it).
        :raises Unauthorized: for a token that is not (or no longer) valid.
        :raises Forbidden: for a token whose role does not allow it.
        """
        if "boot_device" in options:
            options["power_types"] = self.power_types
        action, created, ended = await self.database.run_grouped(_request_power, ref, kind, who, self.now(),
                                                                 **options)
        self.clusters.metrics.actions_ended(ended)
        if created:
            self._hand_over([action])
        return action, created

    async def ask_for_bulk_power(
        self, refs: Iterable[str | int] | None, filters: Mapping[str, str] | None, kind: str, who: str,
        **options: Any,
    ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        """
        Commit one power request by ``who`` for many nodes (named by
        ``refs``, else matching ``filters``), all or nothing, as one batch;
        its actions are handed to their clusters (each when due).  Locked
        nodes refuse an off, a cycle or a soft_off and are left alone.

        :param options: passed to the store's ``request_bulk`` (``escalate_after``, ``reason``,
            ``not_before``).
        :return: the batch's id, its actions in node id order, and the locked nodes left alone.
        """
        if "boot_device" in options:
            options["power_types"] = self.power_types
        batch, done, locked, ended = await self.database.run(_request_bulk, refs, filters, kind, who, self.now(),
                                                             **options)
        self.clusters.metrics.actions_ended(ended)
        self._hand_over(done)
        return batch, done, locked

    async def lock_node_for(self, ref: str, who: str, reason: Any) -> dict[str, Any]:
        """``who`` locks node ``ref``, saying why (:mod:`pserv.region.store.locks`)."""
        return await self.database.run(locks.lock_node, ref, who, reason, self.now())

    async def unlock_node_for(self, ref: str, who: str) -> dict[str, Any]:
        """``who`` unlocks node ``ref``."""
        return await self.database.run(locks.unlock_node, ref, who, self.now())

    def _hand_over(self, made: list[dict[str, Any]]) -> None:
        """Hand the actions ``made`` to their clusters: those for now at once, a scheduled one at its time."""
        now = [a["id"] for a in made if a["not_before"] is None]
        if now:
            self.clusters.start_delivery(now)
        for action in made:
            if action["not_before"] is not None:
                self.clusters.deliver_at(action["id"], moment_from_iso(action["not_before"]))

    async def withdraw_action(self, action_id: int, who: str) -> tuple[dict[str, Any], bool]:
        """
        ``who`` cancels an action: a pending one ends at once; the cluster
        holding one in flight is asked to stop it.

        :return: the action, and whether it is already cancelled.
        """
        result, cancelled = await self.database.run(actions.cancel_action, action_id, who, self.now())
        if cancelled:
            self.clusters.metrics.actions_ended([ended_of(result)])
        else:
            node = await self.database.run(nodes.get_node, result["node"])
            self.clusters.cancel(node["cluster"], node["id"], action_id)
        return result, cancelled


def _request_power(connection: Connection, ref: str, kind: str, who: Requester, now: datetime,
                   **options: Any) -> tuple[dict[str, Any], bool, list[Ended]]:
    """
    The store's ``request_power``, by who asks, a token checked first in
    the same transaction; with the pending actions it superseded, for the metrics.
    """
    action, created = actions.request_power(connection, ref, kind, requester(connection, who), now, **options)
    return action, created, superseded_by(connection, [action], now) if created else []


def _request_bulk(connection: Connection, refs: Any, filters: Any, kind: str, who: str, now: datetime,
                  **options: Any) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]], list[Ended]]:
    """The store's ``request_bulk``; with the pending actions it superseded, for the metrics."""
    batch, made, locked = actions.request_bulk(connection, refs, filters, kind, who, now, **options)
    return batch, made, locked, superseded_by(connection, made, now)
