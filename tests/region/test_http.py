"""
Tests for pserv.region.http.
"""

import io

import pytest
from twisted.web.test.requesthelper import DummyRequest

from pserv.region.errors import Invalid
from pserv.region.http import MAX_BODY, BodyTooLarge, next_page, paging, query_int, query_text, read_json


def request_with(body=b"", args=None, too_large=False):
    request = DummyRequest([b""])
    request.content = io.BytesIO(body)
    request.args = args or {}
    request.too_large = too_large
    return request


def test_read_json():
    """A JSON body is parsed; an empty or broken one is a 400; an oversized one a 413."""
    assert read_json(request_with(b'{"a": 1}')) == {"a": 1}
    with pytest.raises(Invalid):
        read_json(request_with(b""))
    with pytest.raises(Invalid):
        read_json(request_with(b"{"))
    with pytest.raises(BodyTooLarge):
        read_json(request_with(b"{}", too_large=True))
    assert BodyTooLarge("x").status == 413 and MAX_BODY == 1 << 20


def test_query_arguments():
    """Query arguments are checked for type, bounds and choices, naming the argument."""
    request = request_with(args={b"limit": [b"50"], b"state": [b"on"]})
    assert query_int(request, "limit", 100, 1, 1000) == 50
    assert query_int(request, "after", None, 0, 10) is None
    assert query_text(request, "state", ["on", "off"]) == "on"
    with pytest.raises(Invalid) as caught:
        query_int(request_with(args={b"limit": [b"5000"]}), "limit", 100, 1, 1000)
    assert caught.value.field == "limit"


def test_paging_and_the_next_page():
    """A page's limit and cursor come from the query; the next page's path keeps the other arguments."""
    request = request_with(args={b"limit": [b"2"], b"after": [b"7"], b"role": [b"viewer"]})
    request.path = b"/api/v1/users"
    assert paging(request) == (2, 7) and paging(request_with()) == (100, None)
    assert next_page(request, 9) == "/api/v1/users?limit=2&role=viewer&after=9"
    assert next_page(request, None) is None
