"""
Authenticated Redfish requests: auth, retries, redirects and error statuses.

Auth is chosen per BMC from its unauthenticated service root: a session when
the root links ``Sessions`` (falling back to basic if the BMC will not create
one), else HTTP basic.  A 401 on a session logs in again once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred

from pserv.power.types.redfish_endpoint import Endpoint
from pserv.power.drivers.redfish.errors import RedfishProtocolError, error_for_status
from pserv.power.drivers.redfish.http import RedfishHttp, Reply
from pserv.power.drivers.redfish.retry import DEFAULT_BACKOFF, DEFAULT_RETRIES, with_retries
from pserv.power.drivers.redfish.session import Credentials, Sessions, SessionsUnavailable
from pserv.util.backoff import Backoff

SERVICE_ROOT = "/redfish/v1/"
DEFAULT_SYSTEMS = "/redfish/v1/Systems"
MAX_REDIRECTS = 3


@dataclass(frozen=True, slots=True)
class Node:
    """
    Where one node's BMC is and how to log in to it.

    :ivar label: names the BMC in messages: ``redfish ADDRESS``.
    """

    endpoint: Endpoint
    credentials: Credentials = field(repr=False)
    system_id: str | None
    label: str


@dataclass(frozen=True, slots=True)
class ServiceRoot:
    """
    What the service root tells us: where systems and sessions live.
    """

    systems: str = DEFAULT_SYSTEMS
    sessions: str | None = None


class RedfishClient:
    """
    Sends authenticated requests and turns failed statuses into errors.

    :param clock: runs the waits between retries of a busy BMC.
    :param backoff: the wait before retry ``n`` (from zero).
    :param retries: the most times one request is sent again.
    """

    def __init__(
        self, http: RedfishHttp, clock: Any,
        backoff: Backoff = DEFAULT_BACKOFF, retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.http = http
        self.clock = clock
        self.backoff = backoff
        self.retries = retries
        self.sessions = Sessions(self.send, clock)
        self._roots: dict[Endpoint, ServiceRoot] = {}
        self._basic_only: set[Endpoint] = set()

    async def get(self, node: Node, path: str, *, not_found_field: str = "address") -> dict[str, Any]:
        """
        GET a resource as a JSON object, following same-service redirects.

        :raises RedfishProtocolError: when the reply is not a JSON object.
        """
        for _ in range(MAX_REDIRECTS + 1):
            reply = await self.call(node, "GET", path, not_found_field=not_found_field, redirect=True)
            target = _same_service(node.endpoint, reply, f"{node.label}: GET {path}")
            if target is None:
                return json_object(reply, f"{node.label}: GET {path}")
            path = target
        raise RedfishProtocolError(f"{node.label}: GET {path}: too many redirects")

    async def call(
        self, node: Node, method: str, path: str, body: Any = None, *,
        not_found_field: str = "address", redirect: bool = False,
    ) -> Reply:
        """
        Send one authenticated request; fires with a 2xx reply.

        :param redirect: also return a 3xx reply, for the caller to follow.
        :raises PowerError: classified by :func:`error_for_status`.
        """
        what = f"{node.label}: {method} {path}"
        for attempt in range(2):
            headers = await self._auth(node)
            reply = await self.send(node.endpoint, method, path, what=what, headers=headers, json_body=body)
            token = headers.get("X-Auth-Token")
            if reply.code != 401 or token is None or attempt:
                break
            self.sessions.drop(node.endpoint, node.credentials, token)
        if reply.ok or (redirect and 300 <= reply.code < 400):
            return reply
        secrets = [node.credentials.password, headers.get("X-Auth-Token")]
        raise error_for_status(what, reply.code, reply.phrase, reply.body,
                               secrets=secrets, not_found_field=not_found_field)

    def send(self, endpoint: Endpoint, method: str, path: str, **kwargs: Any) -> Deferred[Reply]:
        """
        One request with no auth of its own, retried while the BMC is busy.
        """
        return Deferred.fromCoroutine(with_retries(
            self.clock, lambda: self.http.send(endpoint, method, path, **kwargs), method,
            self.backoff, self.retries,
        ))

    async def root(self, node: Node) -> ServiceRoot:
        """
        The service root, read once per BMC without credentials.

        A BMC that wants credentials even here gets the defaults.
        """
        root = self._roots.get(node.endpoint)
        if root is None:
            root = await self._read_root(node)
            self._roots[node.endpoint] = root
        return root

    def close(self) -> Deferred[None]:
        """
        Delete our sessions, then close every connection.
        """
        return self.sessions.close().addBoth(lambda _: self.http.close())

    async def _read_root(self, node: Node) -> ServiceRoot:
        what = f"{node.label}: GET {SERVICE_ROOT}"
        reply = await self.send(node.endpoint, "GET", SERVICE_ROOT, what=what)
        if reply.code in (401, 403):
            return ServiceRoot()
        if not reply.ok:
            raise error_for_status(what, reply.code, reply.phrase, reply.body)
        document = json_object(reply, what)
        return ServiceRoot(_link(document.get("Systems")) or DEFAULT_SYSTEMS,
                           _link((document.get("Links") or {}).get("Sessions")))

    async def _auth(self, node: Node) -> dict[str, str]:
        creds, endpoint = node.credentials, node.endpoint
        if not creds.username:
            return {}
        root = await self.root(node)
        if root.sessions is None or endpoint in self._basic_only:
            return creds.basic()
        token = self.sessions.token(endpoint, creds)
        if token is None:
            try:
                token = await self.sessions.login(endpoint, creds, root.sessions, node.label)
            except SessionsUnavailable:
                self._basic_only.add(endpoint)
                return creds.basic()
        return {"X-Auth-Token": token}


def json_object(reply: Reply, what: str) -> dict[str, Any]:
    """
    The reply body as a JSON object.

    :raises RedfishProtocolError: saying what came instead.
    """
    try:
        document = json.loads(reply.body)
    except (ValueError, UnicodeDecodeError):
        kind = reply.header("Content-Type") or "no content type"
        raise RedfishProtocolError(
            f"{what}: HTTP {reply.code} reply is not JSON ({kind}, {len(reply.body)} bytes)"
        ) from None
    if not isinstance(document, dict):
        raise RedfishProtocolError(f"{what}: reply is JSON but not an object")
    return document


def link_path(value: Any) -> str | None:
    """
    The path of a link: ``"/redfish/v1/..."`` or an absolute URL.
    """
    if not isinstance(value, str) or not value:
        return None
    path = urlsplit(value).path
    return path if path.startswith("/") else None


def _link(reference: Any) -> str | None:
    return link_path(reference.get("@odata.id")) if isinstance(reference, dict) else None


def _same_service(endpoint: Endpoint, reply: Reply, what: str) -> str | None:
    if not 300 <= reply.code < 400:
        return None
    location = reply.header("Location") or ""
    parts = urlsplit(location)
    if parts.netloc and (parts.scheme, parts.hostname, parts.port or endpoint.port) != endpoint.origin:
        raise RedfishProtocolError(f"{what}: redirected to another service; not followed")
    if not parts.path.startswith("/"):
        raise RedfishProtocolError(f"{what}: HTTP {reply.code} without a usable Location")
    return parts.path
