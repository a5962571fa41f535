"""
Tests for pserv.region.store.tokens, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import select

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid
from pserv.region.store.tokens import create_token, has_tokens, token_name


def test_create_and_check(run, moments, engine):
    """A token is known by its name afterwards, and stored only as a digest."""
    assert not run(has_tokens)
    token = run(create_token, "admin", moments())
    assert token.startswith("pserv_") and run(token_name, token) == "admin"
    assert run(token_name, token + "x") is None and run(has_tokens)
    with engine.connect() as connection:
        stored = connection.execute(select(schema.tokens)).first()
    assert token not in repr(tuple(stored))


def test_names_unique_and_valid(run, moments):
    """A taken or malformed token name is refused."""
    run(create_token, "ci", moments())
    with pytest.raises(Conflict):
        run(create_token, "ci", moments())
    with pytest.raises(Invalid):
        run(create_token, "two words", moments())
