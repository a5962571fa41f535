"""
Fixtures of the browser tests: one ``pserv demo`` (region, cluster,
emulated BMCs, on loopback, in a child process) and one headless Debian
chromium, driven by Playwright's sync API, shared by every browser test
(package-scoped: both stop after the last, before pytest goes on to the
other parts); a fresh browser context (no cookies, 1280×800) for each test.

A test asks for what it needs::

    def test_something(page, operator, api):
        login(page, operator.name, operator.password)   # tests.browser.browsing
        page.goto("/nodes")
        ...
        assert api.node("ipmi-1")["desired_power_state"] == "on"

Playwright never downloads a browser here: it drives the system's
``chromium`` (``make test`` installs Debian's package as root), and
without it every test fails saying so; none is skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
from typing import Iterator

import pytest

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright  # noqa: E402

from tests.browser.screens import HEIGHT, WIDTH  # noqa: E402
from tests.browser.rest import Api  # noqa: E402
from tests.demo.process import Bmc, Demo, User, start_demo  # noqa: E402

NO_CHROMIUM = ("the browser tests drive Debian's chromium, and there is no `chromium` on PATH: "
               "install it (apt-get install chromium fonts-dejavu-core; `make test` does, as root)")

TIMEOUT_MS = 15_000
"""How long Playwright waits for a page, an element or an expectation before failing a test."""

expect.set_options(timeout=TIMEOUT_MS)

SPARE_BMCS = 2
"""Emulated BMCs the demo starts but does not enrol, for the tests that add a node."""


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """
    A running ``pserv demo`` (4 IPMI nodes ``ipmi-1``.. and the PDU's
    outlets, all as the BMCs start, and :data:`SPARE_BMCS` BMCs no node uses).
    """
    running = start_demo(tmp_path_factory.mktemp("demo"), spare_bmcs=SPARE_BMCS)
    yield running
    running.stop()


@pytest.fixture(scope="package")
def api(demo: Demo) -> Api:
    """The demo region's REST API, with its admin token."""
    return Api(demo.url, demo.token)


@pytest.fixture(scope="package")
def spare_bmcs(demo: Demo) -> list[Bmc]:
    """The demo's emulated IPMI BMCs that no node uses, each for one test to add a node on, with their user."""
    return demo.spare_bmcs


@pytest.fixture
def silent_bmc() -> Iterator[int]:
    """A UDP port on 127.0.0.1 where nothing ever answers (a BMC gone quiet), held for one test."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        yield quiet.getsockname()[1]


@pytest.fixture
def own_nodes(api: Api) -> Iterator[list[str]]:
    """
    The names of the nodes a test adds (it appends each before adding it):
    after the test each is removed, its outstanding actions cancelled first,
    so the next test sees only the demo's nodes.
    """
    names: list[str] = []
    yield names
    for name in names:
        api.remove_node(name)


@pytest.fixture(scope="package")
def admin(demo: Demo) -> User:
    """The admin user the demo made."""
    assert demo.admin is not None
    return demo.admin


@pytest.fixture(scope="package")
def operator(api: Api) -> User:
    """The user ``operator``, with the operator role, shared by the browser tests."""
    return api.add_user("operator", name="operator")


@pytest.fixture(scope="package")
def viewer(api: Api) -> User:
    """The user ``viewer``, with the viewer role, shared by the browser tests."""
    return api.add_user("viewer", name="viewer")


@pytest.fixture(scope="package")
def chromium() -> str:
    """The system's chromium; fails (never skips) every test if there is none."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(NO_CHROMIUM, pytrace=False)
    return path


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, running while the browser tests run."""
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    """One headless chromium for the browser tests."""
    launched = playwright.chromium.launch(executable_path=chromium, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, demo: Demo) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies) at 1280×800, its relative URLs on the demo's region."""
    fresh = browser.new_context(base_url=demo.url, viewport={"width": WIDTH, "height": HEIGHT})
    fresh.set_default_timeout(TIMEOUT_MS)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in this test's fresh context; ``page.goto("/login")`` opens the demo's."""
    return context.new_page()
