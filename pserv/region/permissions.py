"""
Who may do what: the one table, by method and route, of the least role
each route of the region needs.  The API's endpoints and the UI's pages
check it on every request (:mod:`pserv.region.endpoints`); pages ask
:func:`allowed` to decide which buttons to show; docs/api.md shows it
(:func:`markdown_table`, a test checks the two agree); and a test walks it
for every role over the real API, and fails if a route is missing from it.

Routes are written as they are declared (Klein's ``<int:action>``); a
route missing from the table makes the region refuse to build its web
resource, so no route can go unchecked.
"""

from __future__ import annotations

import re
from typing import Iterable

from pserv.region.roles import MEANINGS, Role

PUBLIC = None
"""The "role" of a route anyone may use, without a token or a session."""

VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN

PERMISSIONS: dict[tuple[str, str], Role | None] = {
    # Nodes
    ("GET", "/api/v1/nodes"): VIEWER,
    ("POST", "/api/v1/nodes"): OPERATOR,
    ("GET", "/api/v1/nodes/<node>"): VIEWER,
    ("PATCH", "/api/v1/nodes/<node>"): OPERATOR,
    ("DELETE", "/api/v1/nodes/<node>"): OPERATOR,
    # Power
    ("POST", "/api/v1/nodes/<node>/power"): OPERATOR,
    ("POST", "/api/v1/nodes/<node>/lock"): OPERATOR,
    ("POST", "/api/v1/nodes/<node>/unlock"): OPERATOR,
    ("POST", "/api/v1/power"): OPERATOR,
    ("GET", "/api/v1/batches/<int:batch>"): VIEWER,
    ("GET", "/api/v1/nodes/<node>/actions"): VIEWER,
    ("GET", "/api/v1/actions"): VIEWER,
    ("GET", "/api/v1/actions/<int:action>"): VIEWER,
    ("POST", "/api/v1/actions/<int:action>/cancel"): OPERATOR,
    # Events, clusters, drivers, the document
    ("GET", "/api/v1/events"): VIEWER,
    ("GET", "/api/v1/events/stream"): VIEWER,
    ("GET", "/api/v1/clusters"): VIEWER,
    ("PATCH", "/api/v1/clusters/<cluster>"): ADMIN,
    ("GET", "/api/v1/drivers"): VIEWER,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/metrics"): VIEWER,
    # Who is asking; users and tokens
    ("GET", "/api/v1/whoami"): VIEWER,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/<user>"): ADMIN,
    ("PATCH", "/api/v1/users/<user>"): ADMIN,
    ("GET", "/api/v1/tokens"): ADMIN,
    ("POST", "/api/v1/tokens"): ADMIN,
    ("DELETE", "/api/v1/tokens/<name>"): ADMIN,
    # The UI's sessions and pages
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): VIEWER,
    ("GET", "/"): VIEWER,
    ("GET", "/nodes"): VIEWER,
    ("GET", "/nodes/rows"): VIEWER,
    ("GET", "/nodes/new"): OPERATOR,
    ("POST", "/nodes/new"): OPERATOR,
    ("GET", "/nodes/<node>"): VIEWER,
    ("GET", "/nodes/<node>/panels"): VIEWER,
    ("GET", "/nodes/<node>/edit"): OPERATOR,
    ("POST", "/nodes/<node>/edit"): OPERATOR,
    ("POST", "/nodes/<node>/power"): OPERATOR,
    ("POST", "/nodes/<node>/lock"): OPERATOR,
    ("POST", "/nodes/<node>/unlock"): OPERATOR,
    ("POST", "/actions/<int:action>/cancel"): OPERATOR,
    ("POST", "/power/preview"): OPERATOR,
    ("POST", "/power"): OPERATOR,
    ("GET", "/batches/<int:batch>"): VIEWER,
    ("GET", "/batches/<int:batch>/actions"): VIEWER,
    ("GET", "/clusters"): VIEWER,
    ("GET", "/users"): ADMIN,
    ("POST", "/users"): ADMIN,
    ("POST", "/users/<user>"): ADMIN,
    ("GET", "/tokens"): ADMIN,
    ("POST", "/tokens"): ADMIN,
    ("POST", "/tokens/<name>/revoke"): ADMIN,
    ("GET", "/static/<path:name>"): PUBLIC,
}
"""(METHOD, route) -> the least role that may use it, or :data:`PUBLIC`."""

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change something: with a session cookie, they need the CSRF token."""


class Unlisted(KeyError):
    """A route the table does not hold."""


def table_method(method: str) -> str:
    """The method the table lists for ``method``: ``HEAD`` is checked as ``GET``."""
    method = method.upper()
    return "GET" if method == "HEAD" else method


def needed(method: str, route: str) -> Role | None:
    """
    The least role ``method route`` needs, or :data:`PUBLIC`.

    :raises Unlisted: if the table does not hold it.
    """
    key = (table_method(method), route)
    if key not in PERMISSIONS:
        raise Unlisted(f"{key[0]} {route}: not in pserv.region.permissions.PERMISSIONS")
    return PERMISSIONS[key]


def allowed(role: Role | None, method: str, route: str) -> bool:
    """Whether ``role`` (``None``: nobody signed in) may use ``method route``."""
    least = needed(method, route)
    return least is PUBLIC or (role is not None and role.allows(least))


def unlisted(routes: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Those of ``routes`` ((METHOD, route) pairs) the table does not hold."""
    return sorted({(table_method(m), r) for m, r in routes} - set(PERMISSIONS))


def template(route: str) -> str:
    """A route as the OpenAPI document and the docs write it: ``<int:action>`` as ``{action}``."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", route)


def markdown_table() -> str:
    """The roles and then the table, as docs/api.md shows them."""
    lines = ["| role | may |", "| --- | --- |"]
    lines += [f"| `{role.value}` | {MEANINGS[role]} |" for role in Role]
    lines += ["", "| method and path | least role |", "| --- | --- |"]
    for (method, route), role in PERMISSIONS.items():
        lines.append(f"| `{method} {template(route)}` | {'anyone' if role is PUBLIC else f'`{role.value}`'} |")
    return "\n".join(lines) + "\n"
