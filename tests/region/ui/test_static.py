"""
Tests for pserv.region.ui.static over real HTTP: the static files, their
content type and cache header, to anyone; anything else there is a 404 page.
"""

import pytest
import pytest_twisted

from pserv.region.ui.assets import static_url
from tests.region.ui.pages import get


@pytest.mark.parametrize("name, kind", [("pserv.css", "text/css; charset=utf-8"),
                                        ("pserv.js", "text/javascript; charset=utf-8"),
                                        ("favicon.svg", "image/svg+xml")])
@pytest_twisted.ensureDeferred
async def test_static_files_are_served_to_anyone_with_their_type_and_a_cache_header(served, name, kind):
    """Each static file comes without a credential, with its content type, nosniff and a day's cache."""
    answer = await get(served, static_url(name))
    assert answer.status == 200 and answer.header("content-type") == kind
    assert answer.header("cache-control") == "public, max-age=86400"
    assert answer.header("x-content-type-options") == "nosniff" and answer.text


@pytest.mark.parametrize("path", ["/static/nothing.css", "/static/../setup.py", "/static/%2e%2e/setup.py",
                                  "/static/README", "/static/sub/pserv.css"])
@pytest_twisted.ensureDeferred
async def test_anything_else_under_static_is_the_404_page(served, path):
    """A file that is not there, not of a served kind, or outside the directory, is the HTML 404 page."""
    answer = await get(served, path)
    assert answer.status == 404 and "text/html" in answer.header("content-type")
