"""
Klein routes declared on a class without importing klein at module import.

Importing klein imports the global reactor, which installs Twisted's
default one, and any reactor loads pyOpenSSL through Twisted's TCP
transport.  A module import must do neither: each daemon chooses its
reactor in its command (the region runs on the default one, the demo on
asyncio), tests on the one pytest-twisted chose, and the region loads TLS
only when its RPC listener starts.  :class:`Routes` is used as Klein is,
``app = Routes()`` in a class body and ``@app.route(...)`` or
``@app.handle_errors(...)`` on methods; the Klein app is built, and klein
imported, when an instance first asks for it (``self.app.resource()``).

A class may serve routes declared on others (mixins whose methods it
inherits): ``app = Routes(Mixin.routes, ...)``.  :meth:`Routes.routes`
lists every route, and :meth:`Routes.route_of` finds the route a handler
serves, for the permission table (:mod:`pserv.region.permissions`).
"""

from __future__ import annotations

from typing import Any, Callable

Handler = Callable[..., Any]


class Routes:
    """
    Routes and error handlers kept as data until a Klein app is needed.
    """

    def __init__(self, *included: Routes) -> None:
        """
        :param included: routes declared elsewhere, served here too (first).
        """
        self._included = included
        self._declared: list[tuple[str, tuple[Any, ...], dict[str, Any], Handler]] = []
        self._klein: Any = None
        self._by_handler: dict[tuple[Handler, str], str] | None = None

    def route(self, url: str, **options: Any) -> Callable[[Handler], Handler]:
        """
        Declare ``url`` as Klein's ``route(url, **options)`` would.
        """
        return self._declare("route", (url,), options)

    def handle_errors(self, *errors: type[Exception]) -> Callable[[Handler], Handler]:
        """
        Declare an error handler as Klein's ``handle_errors(*errors)`` would.
        """
        return self._declare("handle_errors", errors, {})

    def _declare(self, kind: str, args: tuple[Any, ...], options: dict[str, Any]) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            if self._klein is not None:
                raise RuntimeError("routes are declared while the class body runs, before any use")
            self._declared.append((kind, args, options, handler))
            return handler

        return declare

    def klein(self) -> Any:
        """
        The Klein app with every declared route, built on the first call.
        """
        if self._klein is None:
            from klein import Klein

            app = Klein()
            names: set[str] = set()
            for kind, args, options, handler in self.declarations():
                if kind == "route":
                    _claim(names, options.get("endpoint", handler.__name__))
                getattr(app, kind)(*args, **options)(handler)
            self._klein = app
        return self._klein

    def declarations(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any], Handler]]:
        """Every declaration, the included ones first."""
        included = [d for part in self._included for d in part.declarations()]
        return included + self._declared

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(METHOD, url, handler) of every route; a route with no methods is listed as ``*``."""
        return [
            (method.upper(), args[0], handler)
            for kind, args, options, handler in self.declarations()
            if kind == "route"
            for method in options.get("methods") or ["*"]
        ]

    def route_of(self, handler: Handler, method: str) -> str:
        """
        The url ``handler`` is routed at for ``method`` (``HEAD`` as ``GET``).

        :raises KeyError: if it is not.
        """
        if self._by_handler is None:
            self._by_handler = {(h, m): url for m, url, h in self.routes()}
        method = method.upper()
        return self._by_handler[(handler, "GET" if method == "HEAD" else method)]

    def __get__(self, instance: Any, owner: type) -> Any:
        """
        On the class, these routes; on an instance, the Klein app bound to it.
        """
        if instance is None:
            return self
        return self.klein().__get__(instance, owner)


def _claim(names: set[str], name: str) -> None:
    """Klein keeps one handler per endpoint name: refuse a second."""
    if name in names:
        raise RuntimeError(f"two routes have the endpoint name {name!r}; Klein would keep only one")
    names.add(name)
