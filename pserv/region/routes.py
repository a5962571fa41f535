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
"""

from __future__ import annotations

from typing import Any, Callable

Handler = Callable[..., Any]


class Routes:
    """
    Routes and error handlers kept as data until a Klein app is needed.
    """

    def __init__(self) -> None:
        self._declared: list[tuple[str, tuple[Any, ...], dict[str, Any], Handler]] = []
        self._klein: Any = None

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
            for kind, args, options, handler in self._declared:
                getattr(app, kind)(*args, **options)(handler)
            self._klein = app
        return self._klein

    def __get__(self, instance: Any, owner: type) -> Any:
        """
        On the class, these routes; on an instance, the Klein app bound to it.
        """
        if instance is None:
            return self
        return self.klein().__get__(instance, owner)
