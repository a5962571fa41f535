"""
The three kinds of route the region serves, each admitted through the
permission table (:mod:`pserv.region.permissions`) before it runs:

- :func:`endpoint`: the JSON API.  Refusals are ``{"error", "field"}`` with
  their status (401 without a credential, 403 without the role or the
  CSRF token); anything else is logged (never with a request body) and
  answered 500.
- :func:`endpoint_in_transaction`: an endpoint whose work is one
  transaction, which checks a bearer token itself (the busiest route, a
  node's power request), with the same refusals in the same order.
- :func:`streaming`: an answer written as it comes (the event stream).
  Until it starts, refusals are JSON as an endpoint's; once started, it
  is ``200`` and ends only by closing.
- :func:`text`: an answer in a content type of its own (the metrics),
  refused as an endpoint is.
- :func:`page`: HTML for the UI.  Without a credential it redirects to
  ``/login``; a refusal is a page saying why, with its status
  (:func:`error_page`).

A class serving them has ``app`` (its :class:`~pserv.region.routes.Routes`)
and ``access`` (a :class:`~pserv.region.auth.CredentialCheck`); it calls
:func:`check_routes` once, so a route missing from the table, or a guarded
route that does not check it, stops the region from serving at all.
"""

from __future__ import annotations

import functools
from typing import Any, Awaitable, Callable, Protocol
from urllib.parse import quote

from twisted.internet.defer import CancelledError
from twisted.logger import Logger

from pserv.region.auth import Credential, Forbidden, Unauthorized
from pserv.region.errors import RegionError
from pserv.region.html import render
from pserv.region.http import answer
from pserv.region.permissions import PUBLIC, Unlisted, needed
from pserv.region.routes import Routes

log = Logger()

Handler = Callable[..., Awaitable[Any]]
CREDENTIAL = "pserv_credential"
ROUTE = "pserv_route"
"""The request attribute naming the route it was admitted on, as declared (for the metrics)."""
LOGIN = "/login"
STREAM_HEADERS = ((b"cache-control", b"no-store"), (b"x-accel-buffering", b"no"))
"""A stream is never cached, nor held back by a proxy (nginx's ``X-Accel-Buffering``)."""


class Stream(Protocol):
    """What a :func:`streaming` handler answers with."""

    content_type: bytes

    async def run(self, request: Any) -> None:
        """Write to ``request`` until the stream ends."""


def credential_of(request: Any) -> Credential | None:
    """The credential a request was admitted with (``None`` on a public route)."""
    return getattr(request, CREDENTIAL, None)


async def _admit(self: Any, request: Any, run: Handler) -> Credential | None:
    route = type(self).app.route_of(run, request.method.decode("ascii", "replace"))
    setattr(request, ROUTE, route)
    credential = await self.access.admit(request, route)
    setattr(request, CREDENTIAL, credential)
    return credential


def endpoint(handler: Handler) -> Callable[..., Awaitable[bytes]]:
    """
    Admit, run ``handler(self, request, who, **path)`` (``who`` the
    credential's name) for ``(status, body)``, and answer JSON; refusals
    become their status.
    """

    @functools.wraps(handler)
    async def run(self: Any, request: Any, **path: Any) -> bytes:
        try:
            credential = await _admit(self, request, run)
            status, body = await handler(self, request, credential.name if credential else None, **path)
        except Exception as e:
            return _refusal(request, e)
        return answer(request, status, body)

    run.admits = True  # type: ignore[attr-defined]
    return run


def endpoint_in_transaction(handler: Handler) -> Callable[..., Awaitable[bytes]]:
    """
    As :func:`endpoint`, but a bearer token is left to be checked in the
    transaction of the handler's work: ``handler(self, request, who,
    **path)`` gets as ``who`` a :class:`~pserv.region.auth.TokenCheck` for
    its work to make first (:func:`~pserv.region.auth.requester`), or the
    name of a credential admitted as :func:`endpoint` admits it (a
    session, or ``None`` on a public route).  If the handler fails for
    any other reason than that check (a bad body, no such node), the
    token is checked on its own first, so that a bad or underprivileged
    token is refused as such (401, 403) before anything else is said.
    """

    @functools.wraps(handler)
    async def run(self: Any, request: Any, **path: Any) -> bytes:
        route = type(self).app.route_of(run, request.method.decode("ascii", "replace"))
        setattr(request, ROUTE, route)
        check = self.access.token_check(request, route)
        try:
            who = check if check is not None else _name(await _admit(self, request, run))
            status, body = await handler(self, request, who, **path)
        except Exception as e:
            return _refusal(request, await _credential_first(self, request, run, e) if check else e)
        return answer(request, status, body)

    run.admits = True  # type: ignore[attr-defined]
    return run


async def _credential_first(self: Any, request: Any, run: Handler, failure: Exception) -> Exception:
    """``failure``, unless it is the token's own refusal or admitting the request now refuses it: that refusal."""
    if isinstance(failure, (Unauthorized, Forbidden)):
        return failure
    try:
        await _admit(self, request, run)
    except (Unauthorized, Forbidden) as refused:
        return refused
    except Exception:  # the admission could not be made: the handler's failure is the one to tell
        pass
    return failure


def _name(credential: Credential | None) -> str | None:
    return credential.name if credential else None


def _refusal(request: Any, e: Exception) -> bytes:
    """The JSON answer to what an endpoint raised; called while handling it."""
    if isinstance(e, Unauthorized):
        request.setHeader(b"www-authenticate", b'Bearer realm="pserv"')
    if isinstance(e, RegionError):
        return answer(request, e.status, e.body())
    log.failure("{method} {path} failed", method=request.method, path=request.path)
    return answer(request, 500, {"error": "internal error; see the region's log"})


def text(handler: Callable[..., Awaitable[tuple[bytes, bytes]]]) -> Callable[..., Awaitable[bytes]]:
    """
    Admit and run ``handler(self, request, who, **path)`` for ``(content
    type, body)``, and answer 200 with it; refusals are JSON as
    :func:`endpoint`'s.
    """

    @functools.wraps(handler)
    async def run(self: Any, request: Any, **path: Any) -> bytes:
        try:
            credential = await _admit(self, request, run)
            kind, body = await handler(self, request, _name(credential), **path)
        except Exception as e:
            return _refusal(request, e)
        request.setResponseCode(200)
        request.setHeader(b"content-type", kind)
        return body

    run.admits = True  # type: ignore[attr-defined]
    return run


def streaming(handler: Callable[..., Awaitable[Stream]]) -> Callable[..., Awaitable[bytes]]:
    """
    Admit and run ``handler(self, request, who, **path)`` for a
    :class:`Stream`, refusing as :func:`endpoint` does; then answer 200
    with the stream's content type and :data:`STREAM_HEADERS` and let it
    write until it ends (a ``HEAD`` gets the headers alone).  A stream
    that fails once started is logged and closed: its client reconnects.
    """

    @functools.wraps(handler)
    async def run(self: Any, request: Any, **path: Any) -> bytes:
        try:
            credential = await _admit(self, request, run)
            stream = await handler(self, request, credential.name if credential else None, **path)
        except Exception as e:
            return _refusal(request, e)
        request.setResponseCode(200)
        request.setHeader(b"content-type", stream.content_type)
        for name, value in STREAM_HEADERS:
            request.setHeader(name, value)
        if request.method == b"HEAD":
            return b""
        try:
            await stream.run(request)
        except CancelledError:
            pass
        except Exception:
            log.failure("{method} {path}: the stream failed", method=request.method, path=request.path)
        return b""

    run.admits = True  # type: ignore[attr-defined]
    return run


def page(handler: Handler) -> Callable[..., Awaitable[bytes]]:
    """
    Admit, run ``handler(self, request, credential, **path)`` for the
    page's bytes (see :func:`pserv.region.html.render`); without a
    credential, redirect to the login page and back.
    """

    @functools.wraps(handler)
    async def run(self: Any, request: Any, **path: Any) -> bytes:
        try:
            credential = await _admit(self, request, run)
            return await handler(self, request, credential, **path)
        except Unauthorized:
            return redirect(request, _login_and_back(request))
        except RegionError as e:
            return error_page(request, e.status, e.message)
        except Exception:
            log.failure("{method} {path} failed", method=request.method, path=request.path)
            return error_page(request, 500, "Internal error; see the region's log.")

    run.admits = True  # type: ignore[attr-defined]
    return run


TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed here",
          409: "Conflict", 412: "Changed meanwhile", 413: "Too large", 500: "Error"}
"""The heading of an error page, by status."""


def error_page(request: Any, status: int, message: str) -> bytes:
    """
    A page saying why a request was refused or failed, with ``status``,
    and the navigation of whoever was admitted (none if nobody was).
    """
    return render(request, "error.html", status, title=TITLES.get(status, "Refused"), message=message,
                  credential=credential_of(request))


def _login_and_back(request: Any) -> str:
    """The login page, returning to this page if it was a GET (a form's POST is not repeated)."""
    if request.method not in (b"GET", b"HEAD"):
        return LOGIN
    return f"{LOGIN}?next={quote(request.uri.decode('latin-1'), safe='')}"


def redirect(request: Any, location: str) -> bytes:
    """Answer ``303 See Other`` to the local path ``location``."""
    request.setResponseCode(303)
    request.setHeader(b"location", location.encode("utf-8"))
    return b""


def check_routes(routes: Routes) -> None:
    """
    Refuse routes the permission table does not hold, and guarded routes
    whose handler does not admit through it.

    :raises Unlisted: naming the first such route.
    """
    for method, url, handler in routes.routes():
        least = needed(method, url)
        if least is not PUBLIC and not getattr(handler, "admits", False):
            raise Unlisted(f"{method} {url}: needs {least.value} but its handler checks no credential")
