"""
Tests for pserv.region.openapi_auth: its part of the OpenAPI document.
"""

from pserv.region.openapi import document
from pserv.region.openapi_auth import AUTH_PATHS, AUTH_SCHEMAS
from pserv.region.roles import ROLES


def test_the_document_holds_whoami_users_and_tokens():
    """whoami, users and tokens are paths of the document, their schemas its components."""
    doc = document()
    assert set(AUTH_PATHS) <= set(doc["paths"]) and set(AUTH_SCHEMAS) <= set(doc["components"]["schemas"])
    assert doc["components"]["schemas"]["User"]["properties"]["role"]["enum"] == ROLES


def test_both_credentials_are_security_schemes():
    """The document accepts a bearer token or the session cookie."""
    doc = document()
    assert doc["security"] == [{"bearer": []}, {"session": []}]
    assert doc["components"]["securitySchemes"]["session"] == {
        "type": "apiKey", "in": "cookie", "name": "pserv_session",
        "description": "a UI session; state-changing requests also need its X-CSRF-Token"}


def test_no_answer_shows_a_password_or_a_hash():
    """No answer schema has a password field; only the creation of a token has the token."""
    answers = [AUTH_SCHEMAS[name] for name in ("User", "Token", "Whoami")]
    assert not any("password" in s["properties"] or "password_hash" in s["properties"] for s in answers)
    assert not any("token" in s["properties"] for s in answers)
    assert "token" in AUTH_SCHEMAS["NewToken"]["required"]
