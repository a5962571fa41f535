"""
What a person does in the UI, for the browser tests: log in through the
form, see who is signed in, log out, and the session's CSRF token (which
every page of a session carries in ``<meta name="csrf-token">``); fill the
add-node form for an IPMI BMC; answer the confirmation dialogs; and check
that a page changed in place, without a reload.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from typing import Any, Iterator

from playwright.sync_api import Dialog, Page, expect

from tests.demo.process import Bmc

LOGIN = "/login"
NODE_FORM = "/nodes/new?power_type=ipmi"
DEMO_CLUSTER = "demo-cluster"


def login(page: Page, name: str, password: str) -> Page:
    """
    Log in as ``name`` through the form at /login and return ``page``,
    on the page the login led to.

    :raises AssertionError: if the login is refused (the page stays on /login).
    """
    page.goto(LOGIN)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert not page.url.split("?")[0].endswith(LOGIN), f"login as {name} refused: {error_of(page)}"
    return page


def signed_in(page: Page) -> Any:
    """The header's "Signed in as NAME (ROLE)" paragraph, as a locator."""
    return page.locator("header").get_by_text("Signed in as")


def expect_signed_in(page: Page, name: str, role: str) -> None:
    """``page`` shows that ``name`` with ``role`` is signed in, and a log-out button."""
    expect(signed_in(page)).to_contain_text(f"{name} ({role})")
    expect(log_out_button(page)).to_be_visible()


def log_out_button(page: Page) -> Any:
    """The header's log-out button, as a locator."""
    return page.locator("header").get_by_role("button", name="Log out")


def log_out(page: Page) -> None:
    """Press the log-out button and wait for the login page."""
    with page.expect_navigation():
        log_out_button(page).click()


def csrf_token(page: Page) -> str:
    """The session's CSRF token, from the page's ``<meta name="csrf-token">``."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token, "the page carries no CSRF token"
    return token


def error_of(page: Page) -> str:
    """The text of the page's alert, or '' if it has none."""
    alert = page.get_by_role("alert")
    return alert.first.inner_text() if alert.count() else ""


def fill_ipmi_form(page: Page, name: str, bmc: Bmc, port: int | None = None) -> None:
    """
    Fill the add-node form for IPMI, open on ``page``, with ``name`` on the
    demo's cluster and ``bmc``'s address, user and password, and its port
    unless ``port`` says another.
    """
    page.get_by_label("Name (required)").fill(name)
    page.get_by_label("Cluster").fill(DEMO_CLUSTER)
    page.get_by_label("BMC address (required)").fill(bmc.address)
    page.get_by_label("UDP port").fill(str(bmc.port if port is None else port))
    page.get_by_label("Username").fill(bmc.username)
    page.get_by_label("Password", exact=True).fill(bmc.password)


def submit_node_form(page: Page) -> None:
    """Press the form's "Add the node" and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name="Add the node").click()


def add_ipmi_node(page: Page, name: str, bmc: Bmc) -> None:
    """Add the node ``name`` on ``bmc`` through the form, and wait for its page."""
    page.goto(NODE_FORM)
    fill_ipmi_form(page, name, bmc)
    submit_node_form(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def accept_dialogs(page: Page) -> list[str]:
    """Accept every confirmation ``page`` asks from now on; the list of their messages, as they come."""
    messages: list[str] = []

    def accept(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return messages


def expect_live(page: Page) -> None:
    """
    A live page (one with the ``#live`` indicator) follows the event
    stream: wait until its indicator says so.  A page without one passes.
    """
    if page.locator("#live").count():
        expect(page.locator("#live")).to_have_attribute("data-state", "live")


@contextmanager
def without_reload(page: Page) -> Iterator[None]:
    """
    Within the block, ``page`` must change in place: a mark set on its
    ``window`` before is still there after (a reload or a navigation
    would have lost it).
    """
    mark = secrets.token_hex(8)
    page.evaluate("mark => { window.pservTestMark = mark; }", mark)
    yield
    assert page.evaluate("() => window.pservTestMark") == mark, f"{page.url} was reloaded or left"
