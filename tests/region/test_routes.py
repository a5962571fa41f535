"""
Tests for pserv.region.routes: Klein routes declared without importing klein.
"""

import subprocess
import sys

import pytest
import pytest_twisted
from treq.testing import StubTreq

from pserv.region.routes import Routes


class Greeter:
    app = Routes()

    def __init__(self, name):
        self.name = name

    @app.route("/hello/<who>", methods=["GET"])
    def hello(self, request, who):
        return f"{self.name} greets {who}".encode()

    @app.handle_errors(KeyError)
    def missing(self, request, failure):
        request.setResponseCode(404)
        return b"missing"

    @app.route("/missing", methods=["GET"])
    def fails(self, request):
        raise KeyError("x")


@pytest_twisted.ensureDeferred
async def test_routes_serve_as_klein_would():
    """Each instance serves the declared routes and error handlers, bound to itself."""
    client = StubTreq(Greeter("region").app.resource())
    hello = await client.get("http://x/hello/cluster")
    assert (hello.code, await hello.content()) == (200, b"region greets cluster")
    missing = await client.get("http://x/missing")
    assert (missing.code, await missing.content()) == (404, b"missing")


def test_handlers_stay_plain_methods():
    """On the class, the routes are the declarations and each handler the function written."""
    assert isinstance(Greeter.app, Routes)
    assert Greeter("a").hello(None, "b") == b"a greets b"


def test_no_route_after_first_use():
    """A route declared after the Klein app was built is refused, not silently lost."""
    routes = Routes()
    routes.klein()
    with pytest.raises(RuntimeError):
        routes.route("/late")(lambda self, request: b"")


def test_declaring_routes_imports_no_klein():
    """Declaring routes on a class imports neither klein nor a reactor."""
    code = (
        "import sys\nfrom pserv.region.routes import Routes\n"
        "class A:\n    app = Routes()\n    @app.route('/')\n    def index(self, request): return b''\n"
        "print([m for m in ('klein', 'twisted.internet.reactor') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "[]\n"


class Part:
    routes = Routes()

    @routes.route("/part", methods=["GET", "POST"])
    def part(self, request):
        return b"part"


class Whole(Part):
    app = Routes(Part.routes)

    @app.route("/whole", methods=["GET"])
    def whole(self, request):
        return b"whole"


@pytest_twisted.ensureDeferred
async def test_included_routes_are_served_and_listed():
    """A class serves the routes of the parts it includes, lists them all, and finds each handler's route."""
    client = StubTreq(Whole().app.resource())
    assert await (await client.get("http://x/part")).content() == b"part"
    assert await (await client.get("http://x/whole")).content() == b"whole"
    assert [(m, u) for m, u, _ in Whole.app.routes()] == [("GET", "/part"), ("POST", "/part"), ("GET", "/whole")]
    assert Whole.app.route_of(Part.part, "HEAD") == "/part" and Whole.app.route_of(Whole.whole, "GET") == "/whole"
    with pytest.raises(KeyError):
        Whole.app.route_of(Whole.whole, "POST")


def test_two_handlers_of_one_name_are_refused():
    """Klein keeps one handler per name, so two routes whose handlers share a name are refused."""
    class Other:
        routes = Routes()

        @routes.route("/elsewhere", methods=["GET"])
        def whole(self, request):
            return b""

    with pytest.raises(RuntimeError, match="'whole'"):
        Routes(Whole.app, Other.routes).klein()
