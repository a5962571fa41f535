"""
The OpenAPI document's part for who is asking: ``whoami``, users and
tokens (their paths and component schemas), the two security schemes
(bearer token, session cookie), and the 403 answer of every guarded
operation.  :mod:`pserv.region.openapi` and
:mod:`pserv.region.openapi_schemas` merge it into the document.
"""

from __future__ import annotations

from typing import Any

from pserv.region.permissions import PERMISSIONS, PUBLIC, template
from pserv.region.roles import ROLES
from pserv.region.store.common import MAX_ID

NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
ROLE = {"enum": ROLES, "description": "viewer reads; operator also changes nodes and power; admin also users and tokens"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _page(item: str) -> dict[str, Any]:
    return _object(["items", "next"], {"items": {"type": "array", "items": _ref(item)},
                                       "next": {"type": ["string", "null"], "description": "the next page, or null"}})


FORBIDDEN = _error("the credential's role does not allow it, or a session's request lacks its CSRF token")
UNAUTHORIZED = _error("no valid bearer token or session")
BAD = _error("bad input: the body names the field and the reason")
MISSING = _error("no such user or token")
TAKEN = _error("that name is taken")
TOO_LARGE = _error("the request body is over the limit")
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    {"name": "after", "in": "query", "description": "only items with a larger id",
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}},
]
TIME = {"type": "string", "format": "date-time"}
PASSWORD = {"type": "string", "minLength": 8, "maxLength": 1024, "writeOnly": True,
            "description": "8 to 1024 characters; never shown"}

AUTH_SCHEMAS: dict[str, Any] = {
    "Whoami": _object(["name", "role", "credential"], {
        "name": {"type": "string", "description": "the token's or the user's name"},
        "role": ROLE,
        "credential": {"enum": ["token", "session"]},
        "csrf_token": {"type": "string", "description": "a session's CSRF token, for X-CSRF-Token; not for a token"},
    }),
    "User": _object(["id", "name", "role", "disabled", "created_at", "updated_at"], {
        "id": {"type": "integer"}, "name": {"type": "string"}, "role": ROLE,
        "disabled": {"type": "boolean", "description": "a disabled user cannot log in; its sessions ended"},
        "created_at": TIME, "updated_at": TIME,
    }),
    "UserCreate": _object(["name", "role", "password"], {
        "name": {"type": "string", "pattern": NAME_PATTERN}, "role": ROLE,
        "password": PASSWORD,
    }),
    "UserUpdate": _object([], {
        "role": ROLE, "disabled": {"type": "boolean"},
        "password": {**PASSWORD, "description": PASSWORD["description"] + "; a new one ends the user's sessions"},
    }),
    "Token": _object(["id", "name", "role", "created_at"], {
        "id": {"type": "integer"}, "name": {"type": "string"}, "role": ROLE, "created_at": TIME,
    }),
    "TokenCreate": _object(["name", "role"], {"name": {"type": "string", "pattern": NAME_PATTERN}, "role": ROLE}),
    "NewToken": _object(["id", "name", "role", "created_at", "token"], {
        "id": {"type": "integer"}, "name": {"type": "string"}, "role": ROLE, "created_at": TIME,
        "token": {"type": "string", "description": "the token: shown in this answer only, never again"},
    }),
    "UserPage": _page("User"),
    "TokenPage": _page("Token"),
}

USER_PARAM = {"name": "user", "in": "path", "required": True, "schema": {"type": "string"}, "description": "the user's name"}
TOKEN_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "the token's name"}

AUTH_PATHS: dict[str, Any] = {
    "/api/v1/whoami": {"get": {
        "operationId": "whoami", "summary": "Who the credential is: name, role and kind",
        "responses": {"200": _json(_ref("Whoami"), "the credential"), "401": UNAUTHORIZED},
    }},
    "/api/v1/users": {
        "get": {"operationId": "listUsers", "summary": "Users, oldest first", "parameters": PAGING,
                "responses": {"200": _json(_ref("UserPage"), "a page of users"), "400": BAD, "401": UNAUTHORIZED}},
        "post": {"operationId": "createUser", "summary": "Add a user", "requestBody": _body("UserCreate"),
                 "responses": {"201": _json(_ref("User"), "the user, with a Location header"), "400": BAD,
                               "401": UNAUTHORIZED, "409": TAKEN, "413": TOO_LARGE}},
    },
    "/api/v1/users/{user}": {
        "parameters": [USER_PARAM],
        "get": {"operationId": "getUser", "summary": "Show a user",
                "responses": {"200": _json(_ref("User"), "the user"), "401": UNAUTHORIZED, "404": MISSING}},
        "patch": {"operationId": "updateUser", "summary": "Change a user's role, password, or disable it",
                  "requestBody": _body("UserUpdate"),
                  "responses": {"200": _json(_ref("User"), "the user"), "400": BAD, "401": UNAUTHORIZED,
                                "404": MISSING, "413": TOO_LARGE}},
    },
    "/api/v1/tokens": {
        "get": {"operationId": "listTokens", "summary": "API tokens, oldest first (never the tokens themselves)",
                "parameters": PAGING,
                "responses": {"200": _json(_ref("TokenPage"), "a page of tokens"), "400": BAD, "401": UNAUTHORIZED}},
        "post": {"operationId": "createToken", "summary": "Make an API token with a role; shown once",
                 "requestBody": _body("TokenCreate"),
                 "responses": {"201": _json(_ref("NewToken"), "the token, shown once"), "400": BAD,
                               "401": UNAUTHORIZED, "409": TAKEN, "413": TOO_LARGE}},
    },
    "/api/v1/tokens/{name}": {
        "parameters": [TOKEN_PARAM],
        "delete": {"operationId": "revokeToken", "summary": "Revoke a token: refused from its next request on",
                   "responses": {"204": {"description": "revoked"}, "401": UNAUTHORIZED, "404": MISSING,
                                 "409": _error("the token the request bears: revoke it with another credential")}},
    },
}

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "session": {"type": "apiKey", "in": "cookie", "name": "pserv_session",
                "description": "a UI session; state-changing requests also need its X-CSRF-Token"},
}
SECURITY = [{"bearer": []}, {"session": []}]


def add_forbidden(paths: dict[str, Any]) -> None:
    """Give every operation the permission table guards (or does not list) its 403 answer."""
    public = {(method.lower(), template(route)) for (method, route), role in PERMISSIONS.items() if role is PUBLIC}
    for path, item in paths.items():
        for method, operation in item.items():
            if method != "parameters" and (method, path) not in public:
                operation["responses"].setdefault("403", FORBIDDEN)
