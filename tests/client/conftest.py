"""
Fixtures for the client's tests: the stub region on a loopback port (real
reactor) or in memory (StubTreq, driven by a Clock), and a way to run a
command line in process.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.server import Site

from pserv.client.http import ApiClient
from pserv.scripts.pserv import build_client_parser as build_parser, execute
from pserv.testing.region_stub import TOKEN, StubRegion


@pytest.fixture
def stub() -> StubRegion:
    """The stub region's resource; the test fails if it saw a request the contract does not allow."""
    region = StubRegion()
    yield region
    assert region.violations == []


@pytest_twisted.async_yield_fixture
async def region_url(stub):
    """The stub region served on a free loopback port; its base URL."""
    from twisted.internet import reactor

    port = reactor.listenTCP(0, Site(stub), interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}"
    await port.stopListening()


@pytest.fixture
def api(region_url) -> ApiClient:
    """A client of the loopback stub region on the real reactor."""
    from twisted.internet import reactor

    return ApiClient(region_url, TOKEN, reactor)


@pytest.fixture
def clock() -> Clock:
    """A clock that moves only when told."""
    return Clock()


@pytest.fixture
def memory_http(stub) -> StubTreq:
    """treq on the stub region in memory; ``flush()`` delivers what either side wrote."""
    return StubTreq(stub)


@pytest.fixture
def memory_api(memory_http, clock) -> ApiClient:
    """A client of the stub region in memory: no network, time on ``clock``."""
    return ApiClient("http://region.test", TOKEN, clock, http=memory_http)


def parse(argv: list[str]) -> Any:
    """``pserv ARGV`` parsed."""
    return build_parser().parse_args(argv)


async def run(argv: list[str], api: ApiClient, clock: Any = None) -> int:
    """Run ``pserv ARGV`` in process with ``api``; its exit status."""
    from twisted.internet import reactor

    return await execute(parse(argv), api, clock or reactor)


def start(argv: list[str], api: ApiClient, clock: Clock) -> Deferred:
    """Start ``pserv ARGV`` on ``clock``; a Deferred of its exit status."""
    return Deferred.fromCoroutine(execute(parse(argv), api, clock))
