"""
Tests for pserv.region.store.sessions, on SQLite and PostgreSQL.
"""

from sqlalchemy import select

from pserv.region import schema
from pserv.region.roles import Role
from pserv.region.store.sessions import create_session, csrf_token, end_session, session_credential
from pserv.region.store.users import create_user


def _user(run, moments, name="alice"):
    return run(create_user, name, "$argon2id$stored", Role.OPERATOR, moments())["id"]


def test_session_is_stored_as_a_digest(run, moments, engine):
    """A session names its user and role; its id is stored only as a digest."""
    session = run(create_session, _user(run, moments), "alice", "127.0.0.1", moments())
    assert run(session_credential, session, moments()) == ("alice", Role.OPERATOR)
    with engine.connect() as connection:
        stored = connection.execute(select(schema.sessions)).one()
    assert session not in repr(tuple(stored)) and csrf_token(session) not in repr(tuple(stored))


def test_session_expires(run, moments):
    """A session is refused once its lifetime has passed, and is deleted by the next login."""
    user = _user(run, moments)
    session = run(create_session, user, "alice", "127.0.0.1", moments(), lifetime=60)
    assert run(session_credential, session, moments(59)) is not None
    assert run(session_credential, session, moments(1)) is None
    run(create_session, user, "alice", "127.0.0.1", moments())
    assert len(run(lambda c: c.execute(select(schema.sessions)).all())) == 1


def test_logout_ends_the_session(run, moments):
    """An ended session is refused; ending it again finds nothing."""
    session = run(create_session, _user(run, moments), "alice", "127.0.0.1", moments())
    assert run(end_session, session, moments()) is True
    assert run(session_credential, session, moments()) is None
    assert run(end_session, session, moments()) is False


def test_csrf_token_is_per_session():
    """Each session has its own CSRF token, derived from its id."""
    session = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
    assert csrf_token(session) == csrf_token(session) != csrf_token(session + "x")
    assert session not in csrf_token(session)
