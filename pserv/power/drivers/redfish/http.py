"""
One HTTP exchange with a Redfish service, and nothing more.

treq over a persistent :class:`HTTPConnectionPool`; TLS verified unless a node
opts out; a bounded timeout over the whole exchange, body included; a limit on
concurrent requests per BMC; cancelling a call aborts its connection.  Network
failures become power errors here; what a status code means is decided above.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Iterator

from treq.client import HTTPClient
from OpenSSL import SSL
from twisted.internet import error as net
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredSemaphore,
    TimeoutError as DeferredTimeout,
    gatherResults,
    succeed,
)
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.python.failure import Failure
from twisted.web import _newclient as http11
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS, IResponse
from zope.interface import implementer

from pserv.power.types.redfish_endpoint import Endpoint
from pserv.power.drivers.redfish.errors import RedfishProtocolError, RedfishTLSError
from pserv.power.errors import PowerError, PowerTransientError

MAX_BODY = 1 << 20
"""The largest reply body read; a Redfish resource is a few kilobytes."""

_BASE_HEADERS = {"Accept": "application/json", "OData-Version": "4.0"}


@dataclass(frozen=True, slots=True)
class Reply:
    """
    A complete HTTP reply: status, headers and the whole body.
    """

    code: int
    phrase: str
    headers: Headers
    body: bytes

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.code < 300

    def header(self, name: str) -> str | None:
        """The last value of header ``name``, or ``None``."""
        values = self.headers.getRawHeaders(name)
        return values[-1] if values else None


class RedfishHttp:
    """
    Sends single requests to Redfish services for one driver.

    Each TLS mode has its own pool, so a connection opened without
    verification is never reused by a node that requires it.

    :param reactor: connects and runs the exchanges.
    :param timeout: seconds one exchange (connect, send, whole reply) may take.
    :param per_bmc: the most requests in flight to one BMC at a time.
    :param clock: times each exchange out; the reactor if omitted.
    """

    def __init__(
        self, reactor: Any, *, timeout: float = 10.0, per_bmc: int = 2,
        clock: IReactorTime | None = None,
    ) -> None:
        self.timeout = timeout
        self._reactor = reactor
        self._clock = clock if clock is not None else reactor
        self._per_bmc = per_bmc
        self._limits: dict[tuple[str, str, int], DeferredSemaphore] = {}
        self._pools = {True: self._pool(), False: self._pool()}
        self._clients = {
            True: self._client(BrowserLikePolicyForHTTPS(), self._pools[True]),
            False: self._client(TrustAnyPolicy(), self._pools[False]),
        }

    def send(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        *,
        what: str,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> Deferred[Reply]:
        """
        Send one request and read the whole reply, whatever its status.

        :param what: names the BMC and request in error messages.
        :raises PowerTransientError: on a timeout or a network failure.
        :raises RedfishTLSError: when the TLS handshake or verification fails.
        :raises RedfishProtocolError: when the reply is not HTTP or too large.
        """
        request = (method, endpoint.url(path), {**_BASE_HEADERS, **(headers or {})}, json_body)
        cancelled: list[bool] = []
        work = Deferred.fromCoroutine(self._send(endpoint, request, what, cancelled))
        result: Deferred[Reply] = Deferred(lambda _: (cancelled.append(True), work.cancel()))
        work.addBoth(_relay, result)
        return result

    def close(self) -> Deferred[None]:
        """
        Close every pooled connection.
        """
        closing = [pool.closeCachedConnections() for pool in self._pools.values()]
        return gatherResults(closing).addCallback(lambda _: None)

    async def _send(self, endpoint: Endpoint, request: tuple, what: str, cancelled: list[bool]) -> Reply:
        limit = self._limits.setdefault(endpoint.origin, DeferredSemaphore(self._per_bmc))
        await limit.acquire()
        try:
            exchange = Deferred.fromCoroutine(self._exchange(endpoint.verify_tls, *request))
            exchange.addTimeout(self.timeout, self._clock, onTimeoutCancel=_timed_out)
            return await exchange
        except (CancelledError, PowerError):
            raise
        except Exception as exc:
            # Cancelled layers fail in their own ways (ConnectingCancelledError,
            # even DNSLookupError while resolving): a cancel is a cancel.
            if cancelled:
                raise CancelledError() from exc
            raise transport_error(exc, what, self.timeout) from exc
        finally:
            limit.release()

    async def _exchange(
        self, verify: bool, method: str, url: str, headers: dict[str, str], body: Any
    ) -> Reply:
        extra = {} if body is None else {"json": body}
        response = await self._clients[verify].request(
            method, url, headers=headers, allow_redirects=False,
            unbuffered=True, reactor=self._reactor, **extra,
        )
        data = await read_body(response, MAX_BODY)
        phrase = response.phrase.decode("latin-1", "replace")
        return Reply(response.code, phrase, response.headers, data)

    def _pool(self) -> HTTPConnectionPool:
        pool = HTTPConnectionPool(self._reactor, persistent=True)
        pool.maxPersistentPerHost = self._per_bmc
        pool.cachedConnectionTimeout = 10
        return pool

    def _client(self, policy: IPolicyForHTTPS, pool: HTTPConnectionPool) -> HTTPClient:
        return HTTPClient(Agent(self._reactor, contextFactory=policy, pool=pool))


def read_body(response: IResponse, limit: int) -> Deferred[bytes]:
    """
    Read a whole reply body of at most ``limit`` bytes.

    Cancelling the result drops the connection, so a BMC that stalls mid-body
    cannot hold a request open.
    """
    if response.length == 0:
        return succeed(b"")
    reader = _BodyReader(limit)
    response.deliverBody(reader)
    return reader.done


class BodyTooLarge(Exception):
    """A reply body went past the limit."""


class _BodyReader(Protocol):
    def __init__(self, limit: int) -> None:
        self.done: Deferred[bytes] = Deferred(lambda _: self._drop())
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        self._size += len(data)
        self._chunks.append(data)
        if self._size > self._limit and not self.done.called:
            self._drop()
            self.done.errback(BodyTooLarge(f"body over {self._limit} bytes"))

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self._chunks))
        else:
            self.done.errback(reason)

    def _drop(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()


@implementer(IPolicyForHTTPS)
class TrustAnyPolicy:
    """
    TLS that encrypts but accepts any certificate: ``verify_tls: false``.
    """

    def __init__(self) -> None:
        self._options = CertificateOptions()

    def creatorForNetloc(self, hostname: bytes, port: int) -> IOpenSSLClientConnectionCreator:
        """A connection creator that sends SNI for a DNS name."""
        return _TrustAnyCreator(self._options, hostname)


@implementer(IOpenSSLClientConnectionCreator)
class _TrustAnyCreator:
    def __init__(self, options: CertificateOptions, hostname: bytes) -> None:
        self._options = options
        self._sni = None if _is_ip(hostname.decode("ascii")) else hostname

    def clientConnectionForTLS(self, tls_protocol: Any) -> SSL.Connection:
        connection = SSL.Connection(self._options.getContext(), None)
        connection.set_app_data(tls_protocol)
        if self._sni:
            connection.set_tlsext_host_name(self._sni)
        return connection


def _timed_out(result: Any, timeout: float) -> Any:
    # However the cancelled layers failed, a timeout is a timeout.
    if isinstance(result, Failure):
        return Failure(DeferredTimeout(timeout, "Redfish exchange"))
    return result


def _relay(result: Any, to: Deferred[Any]) -> None:
    # ``to`` may have failed already with CancelledError: then drop the rest.
    if not to.called:
        to.errback(result) if isinstance(result, Failure) else to.callback(result)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def transport_error(exc: Exception, what: str, timeout: float) -> Exception:
    """
    The power error for a failed exchange, or ``exc`` itself when it is not
    a network failure (a bug should not pass as a flaky BMC).
    """
    causes = list(_causes(exc))
    tls = _tls_reason(causes)
    if tls is not None:
        return RedfishTLSError(f"{what}: TLS handshake failed: {tls}")
    if any(isinstance(c, (http11.ParseError, http11.BadHeaders)) for c in causes):
        return RedfishProtocolError(f"{what}: the reply is not valid HTTP")
    if isinstance(exc, BodyTooLarge):
        return RedfishProtocolError(f"{what}: reply {exc}")
    transient = _transient_reason(exc)
    return exc if transient is None else PowerTransientError(f"{what}: {transient}")


def _transient_reason(exc: Exception) -> str | None:
    if isinstance(exc, DeferredTimeout):
        return f"no reply within {_seconds(exc)}"
    for kind, reason in _TRANSIENT:
        if isinstance(exc, kind):
            return reason
    return None


_TRANSIENT: tuple[tuple[type[BaseException] | tuple, str], ...] = (
    (net.ConnectionRefusedError, "connection refused"),
    (net.DNSLookupError, "cannot resolve the host name"),
    ((net.TCPTimedOutError, net.TimeoutError), "connect timed out"),
    (net.ConnectError, "cannot connect"),
    (http11.ResponseNeverReceived, "connection closed before a reply"),
    ((http11.ResponseFailed, http11.RequestTransmissionFailed, http11.RequestNotSent,
      net.ConnectionLost, net.ConnectionDone), "connection lost mid-exchange"),
)


def _seconds(exc: Exception) -> str:
    timeout = exc.args[0] if exc.args and isinstance(exc.args[0], (int, float)) else None
    return f"{timeout:g}s" if timeout is not None else "the timeout"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    yield exc
    for reason in getattr(exc, "reasons", None) or ():
        value = reason.value if isinstance(reason, Failure) else reason
        if isinstance(value, BaseException):
            yield from _causes(value)


def _tls_reason(causes: list[BaseException]) -> str | None:
    for cause in causes:
        if type(cause).__name__ == "VerificationError":
            return "certificate does not match the host (set verify_tls: false to skip)"
        if isinstance(cause, SSL.Error):
            return _ssl_text(cause)
    return None


def _ssl_text(error: SSL.Error) -> str:
    details = error.args[0] if error.args and isinstance(error.args[0], list) else []
    reasons = [d[-1] for d in details if isinstance(d, tuple) and d]
    text = ", ".join(str(r) for r in reasons) or "TLS error"
    if "certificate verify failed" in text:
        text += " (the BMC's certificate is not trusted; set verify_tls: false to skip)"
    return text
