"""
What a person does in the UI, for the browser tests: log in through the
form, see who is signed in, log out, and the session's CSRF token (which
every page of a session carries in ``<meta name="csrf-token">``).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

LOGIN = "/login"


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
