"""
Users of the UI (and of ``/login``): a name, a role, whether disabled, and
the argon2 hash of the password (hashed by the caller, off the database's
threads; :mod:`pserv.region.passwords`).  The hash never leaves this
module.  Disabling a user, or setting a new password, ends the user's
sessions at once; a change of role applies to them at their next request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Row

from pserv.region import schema
from pserv.region.errors import Conflict, NotFound
from pserv.region.roles import Role
from pserv.region.store.common import add_event, insert_returning_id, iso, page, utc
from pserv.region.store.tokens import asked_by, check_name


def user_json(row: Row) -> dict[str, Any]:
    """A user as the API shows it: never the password's hash."""
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "disabled": row.disabled,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def create_user(connection: Connection, name: str, password_hash: str, role: Role, now: datetime,
                by: str | None = None) -> dict[str, Any]:
    """
    Add the user ``name`` with ``role``.

    :param by: who asked, for the event (the command line if ``None``).
    :raises Invalid: for a bad name.
    :raises Conflict: if the name is taken.
    """
    check_name(name)
    if _find(connection, name) is not None:
        raise Conflict(f"a user named {name!r} exists", "name")
    user_id = insert_returning_id(
        connection, schema.users, name=name, password_hash=password_hash, role=Role(role).value,
        disabled=False, created_at=utc(now), updated_at=utc(now),
    )
    add_event(connection, now, "user_created", f"user {name!r} ({Role(role).value}) created by {asked_by(by)}")
    return user_json(_row(connection, user_id))


def get_user(connection: Connection, name: str) -> dict[str, Any]:
    """
    The user ``name``.

    :raises NotFound: if there is none.
    """
    return user_json(_existing(connection, name))


def list_users(connection: Connection, limit: int, after: int | None) -> tuple[list[dict[str, Any]], int | None]:
    """A page of users, oldest first."""
    table = schema.users
    query = select(table).order_by(table.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(table.c.id > after)
    return page(connection.execute(query).all(), limit, user_json)


def change_user(connection: Connection, name: str, changes: Mapping[str, Any], now: datetime,
                by: str | None = None) -> dict[str, Any]:
    """
    Change the user ``name``: any of ``role``, ``disabled`` and
    ``password_hash``.  Disabling or a new password ends its sessions.

    :raises NotFound: if there is none.
    """
    row = _existing(connection, name, lock=True)
    values = {k: changes[k] for k in ("role", "disabled", "password_hash") if k in changes}
    if "role" in values:
        values["role"] = Role(values["role"]).value
    if not values:
        return user_json(row)
    connection.execute(update(schema.users).where(schema.users.c.id == row.id).values(**values, updated_at=utc(now)))
    if values.get("disabled") or "password_hash" in values:
        connection.execute(delete(schema.sessions).where(schema.sessions.c.user_id == row.id))
    add_event(connection, now, "user_changed", f"user {name!r} changed by {asked_by(by)}: {_describe(values)}")
    return user_json(_row(connection, row.id))


def login_user(connection: Connection, name: str) -> Row | None:
    """The user ``name`` with its hash, for a login only; ``None`` if there is none."""
    return _find(connection, name)


def _describe(values: Mapping[str, Any]) -> str:
    said = []
    if "role" in values:
        said.append(f"role {values['role']}")
    if "disabled" in values:
        said.append("disabled" if values["disabled"] else "enabled")
    if "password_hash" in values:
        said.append("new password")
    return ", ".join(said)


def _find(connection: Connection, name: str, lock: bool = False) -> Row | None:
    query = select(schema.users).where(schema.users.c.name == name)
    return connection.execute(query.with_for_update() if lock else query).first()


def _existing(connection: Connection, name: str, lock: bool = False) -> Row:
    row = _find(connection, name, lock)
    if row is None:
        raise NotFound(f"no user named {name!r}", "user")
    return row


def _row(connection: Connection, user_id: int) -> Row:
    return connection.execute(select(schema.users).where(schema.users.c.id == user_id)).one()
