"""
The commands the cluster answers (the region sends them), and the
:class:`ClusterResponder` the cluster daemon implements to answer them.

The cluster refuses them all, and drops the connection, until the region has
proved that it knows the shared secret.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.protocols import amp

from pserv.rpc.arguments import Message, ParsesMessages
from pserv.rpc.common import COMMAND_ERRORS, SESSION_ERRORS
from pserv.rpc.messages import AdoptRequest, CancelRequest, PowerRequest, ReleaseRequest


class PerformPower(ParsesMessages, amp.Command):
    """
    Sent by the region when operators ask for power actions on nodes this
    cluster drives (and again for actions it must re-send): as many as fit
    one AMP value, which the cluster takes in order.  The answer means
    *accepted*: each outcome comes later through
    :class:`~pserv.rpc.region.ReportActions`.  A re-delivered action id
    joins the action that has it.
    """

    arguments = [(b"requests", Message(tuple[PowerRequest, ...], "requests"))]
    response: list[tuple[bytes, amp.Argument]] = []
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class CancelAction(ParsesMessages, amp.Command):
    """
    Sent by the region when an operator cancels an action: the cluster stops
    it at its next safe point.  ``known`` says whether the cluster had the
    action in play; the outcome (``cancelled`` or what really happened)
    comes through :class:`~pserv.rpc.region.ReportActions`.
    """

    arguments = [(b"cancel", Message(CancelRequest, "cancel"))]
    response = [(b"known", amp.Boolean())]
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class ReleaseNode(ParsesMessages, amp.Command):
    """
    Sent by the region when a node this cluster drove has moved to another
    cluster (again on every connection, until answered).  The cluster drops
    the node, cancels what it has in play for it, and answers once nothing
    is: the answer means *released*, and the cluster never touches the node
    again unless the region hands it over anew.  Only then does the node's
    new cluster get it.
    """

    arguments = [(b"release", Message(ReleaseRequest, "release"))]
    response: list[tuple[bytes, amp.Argument]] = []
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class AdoptNodes(ParsesMessages, amp.Command):
    """
    Sent by the region when nodes of this cluster's group become its own
    because the member that held them let its lease end (failover).  The
    answer means *accepted*: the cluster then recovers (as on a reconnect)
    and converges on the nodes with their outstanding actions, finishing
    what the old holder left: a cycle past ``off_verified`` only powers on.
    """

    arguments = [(b"adopt", Message(AdoptRequest, "adopt"))]
    response: list[tuple[bytes, amp.Argument]] = []
    errors = COMMAND_ERRORS
    fatalErrors = SESSION_ERRORS


class ClusterResponder(Protocol):
    """
    What the cluster daemon implements to answer the region.  Each method
    may return a plain value or a Deferred; raising
    :class:`~pserv.rpc.common.InvalidRequest` answers that error, and any
    other failure is logged and answered
    :class:`~pserv.rpc.common.CommandFailed`.
    """

    def perform_power(self, request: PowerRequest) -> Any:
        """Accept a power request (already checked, as it was deserialised)."""

    def cancel_action(self, cancel: CancelRequest) -> Any:
        """Cancel an action; return whether it was known."""

    def release_node(self, release: ReleaseRequest) -> Any:
        """Give a node up; return (or fire) once nothing is in play for it."""

    def adopt_nodes(self, adopt: AdoptRequest) -> Any:
        """Take nodes on: recover and converge on them (need not be done before returning)."""
