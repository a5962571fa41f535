"""
Tests for pserv.region.store.tokens, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import select

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid, NotFound
from pserv.region.roles import Role
from pserv.region.store.events import list_events
from pserv.region.store.tokens import (
    create_token, get_token, has_tokens, issue_token, list_tokens, revoke_token, token_credential,
)


def test_create_and_check(run, moments, engine):
    """A token is known by its name and role afterwards, and stored only as a digest."""
    assert not run(has_tokens)
    token = run(create_token, "ci", moments(), Role.OPERATOR)
    assert token.startswith("pserv_") and run(token_credential, token) == ("ci", Role.OPERATOR)
    assert run(token_credential, token + "x") is None and run(has_tokens)
    with engine.connect() as connection:
        stored = connection.execute(select(schema.tokens)).first()
    assert token not in repr(tuple(stored))


def test_default_role_is_admin(run, moments):
    """A token made without a role is an admin token, as every token was before roles."""
    token = run(create_token, "admin", moments())
    assert run(token_credential, token) == ("admin", Role.ADMIN)


def test_names_unique_and_valid(run, moments):
    """A taken or malformed token name is refused."""
    run(create_token, "ci", moments())
    with pytest.raises(Conflict):
        run(create_token, "ci", moments())
    with pytest.raises(Invalid):
        run(create_token, "two words", moments())


def test_listing_and_issuing_never_show_the_token_again(run, moments):
    """issue_token shows the token once; the listing and get_token show name, role and time only."""
    issued = run(issue_token, "ci", Role.VIEWER, moments(), "alice")
    listed, cursor = run(list_tokens, 100, None)
    assert listed == [{k: v for k, v in issued.items() if k != "token"}] and cursor is None
    assert issued["token"] not in repr(listed) and run(get_token, "ci")["role"] == "viewer"


def test_revoked_token_is_refused_at_once(run, moments):
    """A revoked token is no longer a credential, and the revocation is an event without the token."""
    token = run(create_token, "ci", moments(), Role.OPERATOR, by="alice")
    run(revoke_token, "ci", moments(), by="alice")
    assert run(token_credential, token) is None
    with pytest.raises(NotFound):
        run(revoke_token, "ci", moments())
    events, _ = run(list_events, None, None, 100, None)
    assert [e["kind"] for e in events] == ["token_created", "token_revoked"]
    assert events[1]["message"] == "token 'ci' revoked by 'alice'" and token not in repr(events)
