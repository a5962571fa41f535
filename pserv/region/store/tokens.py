"""
API tokens: created by ``pserv-region create-token``, stored as SHA-256
digests (a token is 256 random bits, so a fast digest is as safe as a slow
one), never stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid
from pserv.region.store.common import insert_returning_id, utc
from pserv.region.store.nodes import NAME

PREFIX = "pserv_"


def digest(token: str) -> str:
    """The stored form of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(connection: Connection, name: str, now: datetime) -> str:
    """
    Make a token called ``name`` and return it; only its digest is kept.

    :raises Invalid: for a bad name.
    :raises Conflict: if the name is taken.
    """
    if not NAME.match(name):
        raise Invalid("name: 1 to 63 letters, digits, '.', '_' or '-'", "name")
    taken = connection.execute(select(schema.tokens.c.id).where(schema.tokens.c.name == name)).first()
    if taken is not None:
        raise Conflict(f"a token named {name!r} exists", "name")
    token = PREFIX + secrets.token_urlsafe(32)
    insert_returning_id(connection, schema.tokens, name=name, digest=digest(token), created_at=utc(now))
    return token


def token_name(connection: Connection, token: str) -> str | None:
    """The name of the token ``token``, or ``None`` if it is not one."""
    return connection.execute(
        select(schema.tokens.c.name).where(schema.tokens.c.digest == digest(token))
    ).scalar()


def has_tokens(connection: Connection) -> bool:
    """Whether any token exists."""
    return connection.execute(select(schema.tokens.c.id).limit(1)).first() is not None
