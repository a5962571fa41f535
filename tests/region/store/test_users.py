"""
Tests for pserv.region.store.users, on SQLite and PostgreSQL.
"""

import pytest

from pserv.region.errors import Conflict, Invalid, NotFound
from pserv.region.roles import Role
from pserv.region.store.events import list_events
from pserv.region.store.sessions import create_session, session_credential
from pserv.region.store.users import change_user, create_user, get_user, list_users, login_user

HASH = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$notarealhashbutstored"


def test_create_show_and_list(run, moments):
    """A user is created with its role, shown and listed without its password hash."""
    user = run(create_user, "alice", HASH, Role.OPERATOR, moments())
    assert (user["name"], user["role"], user["disabled"]) == ("alice", "operator", False)
    assert run(get_user, "alice") == user
    assert run(list_users, 100, None) == ([user], None)
    assert HASH not in repr(user) and run(login_user, "alice").password_hash == HASH


def test_names_unique_and_valid(run, moments):
    """A taken or malformed user name is refused; an unknown one is 404."""
    run(create_user, "alice", HASH, Role.VIEWER, moments())
    with pytest.raises(Conflict):
        run(create_user, "alice", HASH, Role.VIEWER, moments())
    with pytest.raises(Invalid):
        run(create_user, "a b", HASH, Role.VIEWER, moments())
    with pytest.raises(NotFound):
        run(get_user, "bob")
    assert run(login_user, "bob") is None


def test_disabling_ends_sessions_and_a_role_change_applies_at_once(run, moments):
    """A role change applies to a live session at its next lookup; disabling ends the session."""
    user = run(create_user, "alice", HASH, Role.ADMIN, moments())
    session = run(create_session, user["id"], "alice", "127.0.0.1", moments())
    run(change_user, "alice", {"role": "viewer"}, moments(), by="root")
    assert run(session_credential, session, moments()) == ("alice", Role.VIEWER)
    changed = run(change_user, "alice", {"disabled": True}, moments(), by="root")
    assert changed["disabled"] and run(session_credential, session, moments()) is None


def test_a_new_password_ends_sessions(run, moments):
    """Setting a new password ends the user's sessions; the event says so without the hash."""
    user = run(create_user, "alice", HASH, Role.ADMIN, moments())
    session = run(create_session, user["id"], "alice", "127.0.0.1", moments())
    run(change_user, "alice", {"password_hash": HASH + "2"}, moments(), by="root")
    assert run(session_credential, session, moments()) is None
    events, _ = run(list_events, None, None, 100, None)
    assert events[-1]["message"] == "user 'alice' changed by 'root': new password"
    assert HASH not in repr(events)


def test_no_change_changes_nothing(run, moments):
    """An empty change writes no event and returns the user as it was."""
    user = run(create_user, "alice", HASH, Role.ADMIN, moments())
    assert run(change_user, "alice", {}, moments()) == user
    assert [e["kind"] for e in run(list_events, None, None, 100, None)[0]] == ["user_created"]
