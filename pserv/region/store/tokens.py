"""
API tokens: created by ``pserv-region create-token`` or an admin through
the API, stored as SHA-256 digests (a token is 256 random bits, so a fast
digest is as safe as a slow one), never stored, logged or shown in clear
after the answer that creates it.  Each has a role; revoking one deletes
its row, so it stops working at the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection, Row

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid, NotFound
from pserv.region.roles import Role
from pserv.region.store.common import add_event, insert_returning_id, iso, page, utc
from pserv.region.store.nodes import NAME

PREFIX = "pserv_"
NAME_RULE = "name: 1 to 63 letters, digits, '.', '_' or '-'"


def digest(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: Any) -> str:
    """
    ``name`` if it is a valid token or user name.

    :raises Invalid: naming ``name`` otherwise.
    """
    if not isinstance(name, str) or not NAME.match(name):
        raise Invalid(NAME_RULE, "name")
    return name


def token_json(row: Row) -> dict[str, Any]:
    """A token as the API lists it: never the token itself."""
    return {"id": row.id, "name": row.name, "role": row.role, "created_at": iso(row.created_at)}


def create_token(connection: Connection, name: str, now: datetime, role: Role = Role.ADMIN,
                 by: str | None = None) -> str:
    """
    Make a token called ``name`` with ``role`` and return it; only its
    digest is kept.  The default role is ``admin``, as every token was
    before roles (``pserv-region create-token`` keeps that default).

    :param by: who asked, for the event (the command line if ``None``).
    :raises Invalid: for a bad name.
    :raises Conflict: if the name is taken.
    """
    check_name(name)
    taken = connection.execute(select(schema.tokens.c.id).where(schema.tokens.c.name == name)).first()
    if taken is not None:
        raise Conflict(f"a token named {name!r} exists", "name")
    token = PREFIX + secrets.token_urlsafe(32)
    insert_returning_id(connection, schema.tokens, name=name, digest=digest(token), role=Role(role).value,
                        created_at=utc(now))
    add_event(connection, now, "token_created", f"token {name!r} ({Role(role).value}) created by {asked_by(by)}")
    return token


def issue_token(connection: Connection, name: str, role: Role, now: datetime, by: str | None) -> dict[str, Any]:
    """
    Make a token as :func:`create_token` does; the token as the API lists
    it, with the token itself (this once).
    """
    token = create_token(connection, name, now, role, by)
    return {**get_token(connection, name), "token": token}


_BY_DIGEST = select(schema.tokens.c.name, schema.tokens.c.role).where(schema.tokens.c.digest == bindparam("digest"))
"""Built once: every request bearing a token looks it up."""


def token_credential(connection: Connection, token: str) -> tuple[str, Role] | None:
    """The name and role of the token ``token``, or ``None`` if it is not one."""
    row = connection.execute(_BY_DIGEST, {"digest": digest(token)}).first()
    return None if row is None else (row.name, Role(row.role))


def get_token(connection: Connection, name: str) -> dict[str, Any]:
    """
    The token called ``name``, as the API lists it.

    :raises NotFound: if there is none.
    """
    row = connection.execute(select(schema.tokens).where(schema.tokens.c.name == name)).first()
    if row is None:
        raise NotFound(f"no token named {name!r}", "token")
    return token_json(row)


def list_tokens(connection: Connection, limit: int, after: int | None) -> tuple[list[dict[str, Any]], int | None]:
    """A page of tokens, oldest first, without the tokens themselves."""
    table = schema.tokens
    query = select(table).order_by(table.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(table.c.id > after)
    return page(connection.execute(query).all(), limit, token_json)


def revoke_token(connection: Connection, name: str, now: datetime, by: str | None = None) -> None:
    """
    Delete the token called ``name``: the next request bearing it is refused.

    :raises NotFound: if there is none.
    """
    found = get_token(connection, name)
    connection.execute(delete(schema.tokens).where(schema.tokens.c.id == found["id"]))
    add_event(connection, now, "token_revoked", f"token {name!r} revoked by {asked_by(by)}")


def has_tokens(connection: Connection) -> bool:
    """Whether any token exists."""
    return connection.execute(select(schema.tokens.c.id).limit(1)).first() is not None


def asked_by(by: str | None) -> str:
    """Who asked for a change, as an event says it: a name, or the command line."""
    return repr(by) if by is not None else "the command line"
