"""
Tests for pserv.rpc.session: where a connection's handshake stands.
"""

import pytest

from pserv.rpc.session import TRANSITIONS, InvalidTransition, Session, SessionInput, SessionState

S, I = SessionState, SessionInput


def test_the_regions_end_goes_challenged_then_authenticated():
    """The region: Authenticate answered (name and nonces held), then the cluster's proof found good."""
    session = Session()
    assert session.fire(I.CHALLENGE, "rack-1", b"c" * 32, b"r" * 32) is S.CHALLENGED
    assert (session.cluster, session.nonces) == ("rack-1", (b"c" * 32, b"r" * 32))
    assert session.handshaking and not session.authenticated
    assert session.fire(I.CLUSTER_PROVED) is S.AUTHENTICATED
    assert session.authenticated and session.open and not session.handshaking


def test_the_clusters_end_goes_through_region_proved():
    """The cluster: Authenticate sent, the region's proof found good, then its own accepted."""
    session = Session()
    session.fire(I.CHALLENGE, "rack-1", b"c" * 32)
    assert session.fire(I.REGION_PROVED) is S.REGION_PROVED and session.handshaking
    assert session.fire(I.CLUSTER_PROVED) is S.AUTHENTICATED


@pytest.mark.parametrize("steps", [[], [I.CHALLENGE], [I.CHALLENGE, I.REGION_PROVED]])
def test_closing_before_the_handshake_completes_refuses_it(steps):
    """Closed at any point of the handshake, a session is refused for good and keeps the first reason."""
    session = Session()
    for step in steps:
        session.fire(step, *(("rack-1", b"c" * 32) if step is I.CHALLENGE else ()))
    assert session.fire(I.CLOSE, "lost") is S.REFUSED
    assert session.fire(I.CLOSE, "again") is S.REFUSED
    assert (session.why, session.open, session.handshaking, session.authenticated) == ("lost", False, False, False)


def test_closing_after_the_handshake_is_closed_and_still_authenticated():
    """Closed after the handshake, a session is closed, and still says it had authenticated."""
    session = Session()
    session.fire(I.CHALLENGE, "rack-1", b"c" * 32, b"r" * 32)
    session.fire(I.CLUSTER_PROVED)
    assert session.fire(I.CLOSE) is S.CLOSED and session.fire(I.CLOSE) is S.CLOSED
    assert session.authenticated and not session.open and session.cluster == "rack-1"


@pytest.mark.parametrize(
    "state, event", [(s, e) for s in SessionState for e in SessionInput if (s, e) not in TRANSITIONS]
)
def test_undeclared_transitions_raise(state, event):
    """Every input the table does not declare for a state (a second challenge, a proof out of turn) is an error."""
    session = Session()
    session.state = state
    assert not session.allows(event)
    with pytest.raises(InvalidTransition):
        session.fire(event)
    assert session.state is state
