"""
The commands the region answers (a cluster sends them), and the
:class:`RegionResponder` the region implements to answer them.

Every command but the handshake (:class:`Authenticate`, :class:`Prove`)
is refused, and the connection dropped, until the handshake completes; the
cluster's name then comes from the session, never from arguments.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from twisted.internet.defer import Deferred
from twisted.protocols import amp

from pserv.rpc.arguments import Message, ParsesMessages
from pserv.rpc.common import COMMAND_ERRORS, HANDSHAKE_ERRORS, SESSION_ERRORS
from pserv.rpc.messages import (
    ActionReports, AdoptRequest, CancelRequest, ObservedState, PowerRequest, RecoveryPage, RecoveryQuery, ReleaseRequest,
    ReportsAnswer, StartAsk, StartsAnswer,
)

#: The most nodes one ``Recover`` page may ask for.
MAX_PAGE = 1000

#: The most actions one ``TakeStarts`` may ask for (its answer then fits one AMP value).
MAX_ASKS = 500


class Authenticate(amp.Command):
    """
    Sent by a cluster first, on every connection: its name and a fresh
    random nonce, the protocol version it speaks and, for a member of a
    cluster group, the group's name.  The region answers
    its own nonce, its proof that it knows the shared secret (see
    ``docs/rpc.md``) and its version; either side refuses a peer of another
    version (``VERSION_MISMATCH``).  ``version`` is optional only so that a
    peer from before versions were sent gets that clear refusal.
    """

    arguments = [(b"cluster", amp.Unicode()), (b"cluster_nonce", amp.String()),
                 (b"version", amp.Integer(optional=True)), (b"group", amp.Unicode(optional=True))]
    response = [(b"region_nonce", amp.String()), (b"region_proof", amp.String()),
                (b"version", amp.Integer(optional=True))]
    fatalErrors = HANDSHAKE_ERRORS


class Prove(amp.Command):
    """
    Sent by a cluster once it has checked the region's proof: its own proof
    that it knows the shared secret.  On success the session belongs to the
    cluster named in :class:`Authenticate`; on failure the region logs it,
    drops the connection and acts on nothing the peer sent.
    """

    arguments = [(b"cluster_proof", amp.String())]
    response: list[tuple[bytes, amp.Argument]] = []
    fatalErrors = HANDSHAKE_ERRORS


class Recover(ParsesMessages, amp.Command):
    """
    Sent by a cluster on every (re)connect, page after page: everything
    outstanding for its nodes, the nodes with an id above ``query.after``
    (all for ``None``) in id order, at most ``query.limit`` of them and at
    most what fits in one AMP value.  The page's ``next`` is the ``after``
    of the next page, ``None`` after the last.
    """

    arguments = [(b"query", Message(RecoveryQuery, "query"))]
    response = [(b"page", Message(RecoveryPage, "page"))]
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class ReportActions(ParsesMessages, amp.Command):
    """
    Sent by a cluster with reports on many actions at once: those that
    started running, reached a milestone (``off_verified``, ...) or ended.
    Idempotent by action id: the cluster repeats each report, across
    reconnects, until it is answered; the answer names the actions whose
    outcome changed the node and those whose report must be sent again.
    A batch fits one AMP value: the cluster's report queue cuts it so.
    """

    arguments = [(b"reports", Message(ActionReports, "reports"))]
    response = [(b"answer", Message(ReportsAnswer, "answer"))]
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class ReportPowerStates(ParsesMessages, amp.Command):
    """
    Sent by a cluster with power states it observed (by a query, a power
    action, or a periodic check).  A batch fits one AMP value: the sending
    helper splits bigger ones.
    """

    arguments = [(b"states", Message(tuple[ObservedState, ...], "states"))]
    response: list[tuple[bytes, amp.Argument]] = []
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class TakeStarts(ParsesMessages, amp.Command):
    """
    Sent by a cluster for the actions about to send a power-on under a
    power budget, all at once: which may start now, and where the others
    wait in their budget's line (:mod:`pserv.region.store.budget_line`).
    The cluster asks again, for those still waiting, after the answer's
    ``retry_after``.  Not idempotent: each start granted counts against the
    budget, whether or not the cluster uses it.
    """

    arguments = [(b"asks", Message(tuple[StartAsk, ...], "asks"))]
    response = [(b"answer", Message(StartsAnswer, "answer"))]
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class Heartbeat(amp.Command):
    """
    Sent by a cluster every few seconds; an answer shows the connection is
    alive both ways.  A cluster whose heartbeat goes unanswered in time
    drops the connection and reconnects.  The answer's ``lease`` is how
    many seconds the cluster's lease runs from the heartbeat: a member of a
    group acts for its nodes only while it runs (docs/operations.md).
    """

    arguments: list[tuple[bytes, amp.Argument]] = []
    response = [(b"lease", amp.Float(optional=True))]
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class ClusterConnection(Protocol):
    """
    What the region gets for each authenticated cluster, to send it
    commands.
    """

    cluster: str | None

    group: str | None

    def perform_power(self, requests: Sequence[PowerRequest]) -> Deferred[None]:
        """Send power requests (as many as fit one AMP value); fires once the cluster has accepted them."""

    def cancel_action(self, cancel: CancelRequest) -> Deferred[bool]:
        """Ask the cluster to cancel an action; fires with whether it knew it."""

    def release_node(self, release: ReleaseRequest) -> Deferred[None]:
        """Ask the cluster to give a node up; fires once it has."""

    def adopt_nodes(self, adopt: AdoptRequest) -> Deferred[None]:
        """Ask the cluster to take nodes on; fires once it has accepted."""

    def disconnect(self) -> None:
        """Drop the connection."""


class RegionResponder(Protocol):
    """
    What the region implements to answer clusters.  ``cluster`` is always
    the authenticated session's name.  Each method may return a plain value
    or a Deferred; raising :class:`~pserv.rpc.common.InvalidRequest` answers
    that error, and any other failure is logged and answered
    :class:`~pserv.rpc.common.CommandFailed`.
    """

    def cluster_connected(self, name: str, connection: ClusterConnection) -> Any:
        """A cluster authenticated; ``connection`` sends it commands."""

    def cluster_disconnected(self, name: str) -> Any:
        """The cluster's current connection is gone."""

    def recover(self, cluster: str, query: RecoveryQuery) -> Any:
        """
        A :class:`~pserv.rpc.messages.RecoveryPage`: the cluster's nodes with
        an id above ``query.after`` in id order, at most ``query.limit``;
        ``next`` is the last node's id when more remain.
        """

    def report_actions(self, cluster: str, reports: ActionReports) -> Any:
        """Reports on actions: a :class:`~pserv.rpc.messages.ReportsAnswer`."""

    def report_power_states(self, cluster: str, states: tuple[ObservedState, ...]) -> Any:
        """Power states the cluster observed."""

    def heartbeat(self, cluster: str) -> Any:
        """The cluster is alive: the seconds its lease now runs (or ``None``)."""

    def take_starts(self, cluster: str, asks: tuple[StartAsk, ...]) -> Any:
        """Which of ``asks`` may send their power-on now: a :class:`~pserv.rpc.messages.StartsAnswer`."""
