"""
Failed logins, and the limit on them: after :data:`LIMIT` failures in
:data:`WINDOW` seconds for one user name, or from one address, further
logins for that name or from that address are refused without checking
the password until the oldest of those failures is older than the window.
Failures are rows (shared by every region on the database, and kept over
restarts); the name tried is kept only as a digest, since people type
passwords into the name field.  Each failure is an event, without the
password; a refused (throttled) attempt is neither recorded nor an event,
so an attacker cannot fill the log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Row

from pserv.region import schema
from pserv.region.store.common import add_event, insert_returning_id, utc
from pserv.region.store.sessions import LIFETIME, create_session
from pserv.region.store.users import login_user

LIMIT = 5
WINDOW = 300.0
MAX_ADDRESS = 64


@dataclass(frozen=True)
class LoginCheck:
    """
    What a login attempt found before its password is checked.

    :ivar retry_after: seconds until a login may be tried again, when
        throttled (the password must then not be checked).
    :ivar user: the user's row (with its hash), if the name is one.
    """

    retry_after: float | None
    user: Row | None


def name_digest(name: str) -> str:
    """The stored form of a name tried at login."""
    return hashlib.sha256(b"pserv login name\0" + name.encode("utf-8", "replace")).hexdigest()


def begin_login(connection: Connection, name: str, address: str, now: datetime) -> LoginCheck:
    """Whether a login for ``name`` from ``address`` is throttled, and the user it names."""
    retry = throttled(connection, name, address, now)
    return LoginCheck(retry, None if retry is not None else login_user(connection, name))


def throttled(connection: Connection, name: str, address: str, now: datetime) -> float | None:
    """Seconds until a login for ``name`` from ``address`` may be tried, or ``None`` if it may now."""
    table = schema.login_failures
    since = utc(now) - timedelta(seconds=WINDOW)
    waits = []
    for column, value in ((table.c.name_digest, name_digest(name)), (table.c.address, address[:MAX_ADDRESS])):
        times = connection.execute(
            select(table.c.at).where(column == value, table.c.at > since).order_by(table.c.at.desc()).limit(LIMIT)
        ).scalars().all()
        if len(times) >= LIMIT:
            waits.append((times[-1] - since).total_seconds())
    return max(waits) if waits else None


def finish_login(connection: Connection, user_id: int, name: str, address: str, now: datetime,
                 lifetime: float = LIFETIME) -> str | None:
    """
    After the password matched: a new session's id, and the name's failures
    forgotten; ``None`` (and a failure) if the user was disabled meanwhile.
    """
    user = connection.execute(select(schema.users).where(schema.users.c.id == user_id)).first()
    if user is None or user.disabled:
        fail_login(connection, name, address, now, user)
        return None
    connection.execute(delete(schema.login_failures).where(schema.login_failures.c.name_digest == name_digest(name)))
    return create_session(connection, user_id, name, address, now, lifetime)


def fail_login(connection: Connection, name: str, address: str, now: datetime, user: Any) -> None:
    """
    Record a failed login for ``name`` from ``address`` and its event,
    which names the user only if ``user`` (its row) exists.
    """
    table = schema.login_failures
    connection.execute(delete(table).where(table.c.at <= utc(now) - timedelta(seconds=WINDOW)))
    insert_returning_id(connection, table, at=utc(now), name_digest=name_digest(name), address=address[:MAX_ADDRESS])
    who = "an unknown user" if user is None else f"{name!r}" + (" (disabled)" if user.disabled else "")
    message = f"login as {who} from {address[:MAX_ADDRESS]} failed"
    if throttled(connection, name, address, now) is not None:
        message += f"; {LIMIT} failures in {WINDOW:.0f} s: more logins for it or from there are refused for now"
    add_event(connection, now, "login_failed", message)
