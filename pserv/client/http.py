"""
The region's REST API over treq: JSON in, parsed JSON out, and event
streams read as they come; errors as
:class:`~pserv.client.errors.ClientError` (the region said no) or
:class:`~pserv.client.errors.UnreachableError` (no answer at all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectError, ConnectionRefusedError, DNSLookupError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import RequestTransmissionFailed, ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss

from pserv import __version__
from pserv.client.errors import ClientError, UnreachableError

__all__ = ["ApiClient", "ApiResponse", "ClientError", "UnreachableError", "node_path"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
EVENT_STREAM = "text/event-stream"
MAX_PAGE = 1000
OK_STATUSES = frozenset({200, 201, 202, 204})


@dataclass(frozen=True)
class ApiResponse:
    """
    A successful answer: its status and its parsed JSON body (None for 204).
    """

    status: int
    body: Any


def node_path(node: str, *rest: str) -> str:
    """
    The API path of a node given by id or name, e.g. ``/api/v1/nodes/n1/power``.
    """
    return "/".join(["/api/v1/nodes", quote(node, safe=""), *rest])


class ApiClient:
    """
    A client of one region, authenticated by one bearer token.

    :param base_url: the region's root URL, e.g. ``http://region:5240``.
    :param token: the bearer token; never logged, printed or repr'd.
    :param reactor: for connections and the per-request timeout.
    :param http: a treq ``HTTPClient`` (or ``StubTreq``); by default one on
        ``reactor`` that does not keep connections open.
    """

    def __init__(
        self, base_url: str, token: str, reactor: IReactorTime,
        http: Any = None, timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._reactor = reactor
        self._http = http if http is not None else _default_http(reactor)
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"<ApiClient {self.base_url}>"

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> ApiResponse:
        """
        ``GET path?params``.
        """
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any = None) -> ApiResponse:
        """
        ``POST path`` with a JSON body.
        """
        return await self.request("POST", path, body=body)

    async def text(self, path: str, accept: str = "text/plain") -> str:
        """
        ``GET path`` for an answer that is not JSON (the metrics): its body
        as text.

        :raises ClientError: for any status but 200, with the region's error.
        :raises UnreachableError: when there is no HTTP answer in time.
        """
        status, location, content = await self._timed(self._exchange("GET", self._resolve(path), None, accept))
        if status != 200:
            _answer(status, location, content)
            raise ClientError(status, f"the region answered HTTP {status}")
        return content.decode("utf-8", "replace")

    async def request(
        self, method: str, path: str, *,
        params: Mapping[str, Any] | None = None, body: Any = None,
    ) -> ApiResponse:
        """
        One request; path is relative to the base URL, or a full URL of the
        same origin (a page's ``next``).

        :raises ClientError: for any status but 200, 201, 202 and 204.
        :raises UnreachableError: when there is no HTTP answer in time.
        """
        url = self._resolve(path) + _query(params)
        status, location, content = await self._timed(self._exchange(method, url, body))
        return _answer(status, location, content)

    async def stream(
        self, path: str, params: Mapping[str, Any] | None, receive: Callable[[bytes], None], *,
        headers: Mapping[str, str] | None = None, idle: float | None = None,
    ) -> None:
        """
        ``GET path?params`` as an event stream: each piece of the body to
        ``receive`` as it comes, until the region ends it.  The answer must
        begin within the timeout; then, with ``idle``, some bytes (a
        keep-alive at least) must come every ``idle`` seconds.  Cancelling
        closes the connection.

        :param headers: more request headers (``Last-Event-ID``).
        :raises ClientError: for any answer but a 200 event stream, or what
            ``receive`` raises.
        :raises UnreachableError: no answer in time, or the stream broke or
            went quiet.
        """
        url = self._resolve(path) + _query(params)
        response = await self._timed(self._open(url, headers or {}))
        if response.code != 200:
            content = await self._timed(response.content())
            _answer(response.code, response.headers.getRawHeaders("location", [None])[0], content)
        kind = (response.headers.getRawHeaders("content-type") or [""])[0]
        if not kind.startswith(EVENT_STREAM):
            raise ClientError(response.code, "the answer is not an event stream: is the URL a pserv region?")
        body = _StreamBody(receive, self._reactor, idle, self.base_url)
        response.deliverBody(body)
        await body.done

    async def _timed(self, work: Awaitable[T]) -> T:
        """``work``, cancelled if it takes over the timeout; its failure as :meth:`_failure` says."""
        d = Deferred.fromCoroutine(_awaited(work))
        expired: list[bool] = []
        timer = self._reactor.callLater(self._timeout, lambda: (expired.append(True), d.cancel()))
        try:
            return await d
        except Exception as e:
            raise self._failure(e, bool(expired)) from None
        finally:
            if timer.active():
                timer.cancel()

    async def _open(self, url: str, more: Mapping[str, str]) -> Any:
        headers = {**self._headers(EVENT_STREAM), **more}
        return await self._http.request("GET", url, headers=headers, allow_redirects=False, unbuffered=True)

    def _headers(self, accept: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": accept,
            "User-Agent": f"pserv-cli/{__version__}",
        }

    async def collect(
        self, path: str, params: Mapping[str, Any], limit: int | None = None,
    ) -> dict[str, Any]:
        """
        A list's items from every page, or only the first ``limit``, in the
        page shape ``{"items": [...], "next": url|null}``; ``next`` is where
        the list goes on when ``limit`` cut it short.
        """
        items: list[Any] = []
        page = (await self.get(path, _limited(params, limit))).body
        items.extend(page["items"])
        while page.get("next") and (limit is None or len(items) < limit):
            left = None if limit is None else limit - len(items)
            page = (await self.get(_with_limit(page["next"], left))).body
            items.extend(page["items"])
        return {"items": items, "next": page.get("next")}

    async def _exchange(self, method: str, url: str, body: Any,
                        accept: str = "application/json") -> tuple[int, str | None, bytes]:
        headers = self._headers(accept)
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        response = await self._http.request(
            method, url, headers=headers, allow_redirects=False, **kwargs
        )
        content = await response.content()
        location = response.headers.getRawHeaders("location", [None])[0]
        return response.code, location, content

    def _failure(self, e: Exception, expired: bool) -> Exception:
        """
        What a failed exchange means: no answer in time, an interrupt (a
        plain CancelledError), no connection, or a bug to pass on.
        """
        if expired:
            return UnreachableError(f"no answer from {self.base_url} in {self._timeout:g} s")
        if _cancelled(e):
            return CancelledError()
        if isinstance(e, (ConnectError, ResponseFailed, RequestTransmissionFailed)):
            return UnreachableError(f"cannot reach {self.base_url}: {_reason(e)}")
        return e

    def _resolve(self, path: str) -> str:
        url = path if _has_scheme(path) else self.base_url + "/" + path.lstrip("/")
        if _origin(url) != _origin(self.base_url):
            raise ClientError(0, f"the region gave a link to another site: {url}")
        return url


async def _awaited(work: Awaitable[T]) -> T:
    return await work


class _StreamBody(Protocol):
    """
    A streamed body handed to ``receive``; ``done`` fires when it ends,
    and cancelling it closes the connection.
    """

    def __init__(self, receive: Callable[[bytes], None], clock: IReactorTime, idle: float | None,
                 where: str) -> None:
        self.receive = receive
        self.clock = clock
        self.idle = idle
        self.where = where
        self.done: Deferred[None] = Deferred(lambda _: self._close())
        self._quiet: Any = None

    def connectionMade(self) -> None:
        self._watch()

    def dataReceived(self, data: bytes) -> None:
        self._watch()
        try:
            self.receive(data)
        except Exception as e:
            self._end(e)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._unwatch()
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(None)
        else:
            self.done.errback(UnreachableError(f"the connection to {self.where} was lost mid-stream"))

    def _watch(self) -> None:
        """Start (again) the wait for the next bytes."""
        self._unwatch()
        if self.idle is not None:
            self._quiet = self.clock.callLater(self.idle, self._silent)

    def _unwatch(self) -> None:
        if self._quiet is not None and self._quiet.active():
            self._quiet.cancel()
        self._quiet = None

    def _silent(self) -> None:
        self._quiet = None
        self._end(UnreachableError(f"nothing came from {self.where} in {self.idle:g} s"))

    def _end(self, error: Exception) -> None:
        self._close()
        if not self.done.called:
            self.done.errback(error)

    def _close(self) -> None:
        self._unwatch()
        if self.transport is not None:
            self.transport.stopProducing()


def _default_http(reactor: Any) -> Any:
    from treq.client import HTTPClient
    from twisted.web.client import Agent, HTTPConnectionPool

    pool = HTTPConnectionPool(reactor, persistent=False)
    return HTTPClient(Agent(reactor, connectTimeout=DEFAULT_TIMEOUT, pool=pool))


def _answer(status: int, location: str | None, content: bytes) -> ApiResponse:
    if 300 <= status < 400:
        raise ClientError(status, f"the region redirected to {location}: check the URL")
    body = _parse(status, content)
    if status not in OK_STATUSES:
        raise _error_from(status, body)
    return ApiResponse(status, body)


def _parse(status: int, content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except ValueError:
        if status in OK_STATUSES:
            raise ClientError(status, "the answer is not JSON: is the URL a pserv region?") from None
        return None


def _error_from(status: int, body: Any) -> ClientError:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        field = body.get("field")
        return ClientError(status, body["error"], field if isinstance(field, str) else None)
    return ClientError(status, f"the region answered HTTP {status}")


def _cancelled(e: Exception) -> bool:
    if isinstance(e, CancelledError):
        return True
    return isinstance(e, ResponseFailed) and any(r.check(CancelledError) for r in e.reasons)


def _reason(e: Exception) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, DNSLookupError):
        return "no such host"
    if isinstance(e, ResponseFailed) and e.reasons:
        return e.reasons[0].getErrorMessage()
    return str(e) or type(e).__name__


def _query(params: Mapping[str, Any] | None) -> str:
    pairs = [(k, str(v)) for k, v in (params or {}).items() if v is not None]
    return "?" + urlencode(pairs) if pairs else ""


def _limited(params: Mapping[str, Any], limit: int | None) -> dict[str, Any]:
    if limit is None:
        return dict(params)
    return {**params, "limit": min(limit, MAX_PAGE)}


def _with_limit(url: str, limit: int | None) -> str:
    """
    ``url`` with its ``limit`` query parameter set to at most ``limit``.
    """
    if limit is None:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "limit"]
    query.append(("limit", str(min(limit, MAX_PAGE))))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _has_scheme(path: str) -> bool:
    return bool(urlsplit(path).scheme)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
