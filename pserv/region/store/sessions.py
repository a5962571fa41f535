"""
UI sessions.  A session id is 256 random bits, given to the browser in a
cookie and stored only as its SHA-256 digest; each request looks its
session up (with its user, who must still be enabled), so logging out,
disabling the user or the session's expiry takes effect at once.  The
session's CSRF token is derived from its id (an HMAC), so it needs no
storage and cannot be computed without the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from pserv.region import schema
from pserv.region.config import SESSION_LIFETIME
from pserv.region.roles import Role
from pserv.region.store.common import add_event, insert_returning_id, utc
from pserv.region.store.tokens import digest

LIFETIME = SESSION_LIFETIME


def csrf_token(session_id: str) -> str:
    """The CSRF token of the session ``session_id``."""
    return hmac.new(session_id.encode("utf-8"), b"pserv csrf token", hashlib.sha256).hexdigest()


def create_session(connection: Connection, user_id: int, name: str, address: str, now: datetime,
                   lifetime: float = LIFETIME) -> str:
    """
    Start a session for the user ``user_id`` (called ``name``, logging in
    from ``address``) and return its id; sessions past their expiry are
    deleted on the way.
    """
    connection.execute(delete(schema.sessions).where(schema.sessions.c.expires_at <= utc(now)))
    session_id = secrets.token_urlsafe(32)
    insert_returning_id(connection, schema.sessions, digest=digest(session_id), user_id=user_id,
                        created_at=utc(now), expires_at=utc(now) + timedelta(seconds=lifetime))
    add_event(connection, now, "login", f"user {name!r} logged in from {address}")
    return session_id


def session_credential(connection: Connection, session_id: str, now: datetime) -> tuple[str, Role] | None:
    """
    The name and role of the user whose live session is ``session_id``;
    ``None`` if it is unknown, expired or its user disabled.
    """
    sessions, users = schema.sessions, schema.users
    row = connection.execute(
        select(users.c.name, users.c.role)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(sessions.c.digest == digest(session_id), sessions.c.expires_at > utc(now),
               users.c.disabled.is_(False))
    ).first()
    return None if row is None else (row.name, Role(row.role))


def end_session(connection: Connection, session_id: str, now: datetime) -> bool:
    """Delete the session ``session_id``; whether there was one."""
    sessions, users = schema.sessions, schema.users
    found = connection.execute(
        select(sessions.c.id, users.c.name)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(sessions.c.digest == digest(session_id))
    ).first()
    if found is None:
        return False
    connection.execute(delete(sessions).where(sessions.c.id == found.id))
    add_event(connection, now, "logout", f"user {found.name!r} logged out")
    return True
