"""
Tests for pserv.region.http.
"""

import io

import pytest
from twisted.web import http as twisted_http
from twisted.web.test.requesthelper import DummyChannel, DummyRequest

from pserv.region.errors import Invalid
from pserv.region.http import MAX_BODY, BodyTooLarge, BoundedRequest, next_page, read_json


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


def test_nan_and_infinity_are_not_json():
    """NaN and Infinity, which Python's json reads, are refused as not JSON."""
    for body in (b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'):
        with pytest.raises(Invalid, match="not valid JSON"):
            read_json(request_with(body))


def test_the_next_page():
    """The next page's path keeps the other arguments and moves the cursor."""
    request = request_with(args={b"limit": [b"2"], b"after": [b"7"], b"role": [b"viewer"]})
    request.path = b"/api/v1/users"
    assert next_page(request, 9) == "/api/v1/users?limit=2&role=viewer&after=9"
    assert next_page(request, None) is None


@pytest.mark.parametrize("body, field", [
    (b'{"reason": "a\\ud800b"}', "reason"),
    (b'{"filter": {"q": "\\udfff"}}', "filter.q"),
    (b'{"nodes": ["n1", "\\ud83d"]}', "nodes.1"),
    (b'{"\\ud800": 1}', None),
    (b'"\\udc00"', None),
])
def test_an_unpaired_surrogate_is_refused_naming_where(body, field):
    """JSON holding an unpaired surrogate (no text a database stores) is a 400 naming where it is."""
    with pytest.raises(Invalid) as caught:
        read_json(request_with(body))
    assert caught.value.field == field and "unpaired surrogate" in caught.value.message


def test_a_surrogate_pair_is_text():
    """A surrogate pair is one character beyond the BMP, read as such."""
    assert read_json(request_with(b'{"reason": "\\ud83d\\ude00"}')) == {"reason": "\U0001f600"}


def received(content_type, body, monkeypatch):
    """A BoundedRequest for POST /x?a=1 with ``body``, once received (not rendered); and the Content-Types twisted.web parsed."""
    parsed = []
    original = twisted_http._parseContentType
    monkeypatch.setattr(twisted_http, "_parseContentType", lambda line: parsed.append(line) or original(line))
    request = BoundedRequest(DummyChannel())
    request.requestHeaders.setRawHeaders(b"content-type", [content_type])
    request.gotLength(len(body))
    request.handleContentChunk(body)
    request.process = lambda: None
    request.requestReceived(b"POST", b"/x?a=1", b"HTTP/1.1")
    return request, parsed


@pytest.mark.parametrize("content_type", [b"application/json", b"Application/JSON; charset=utf-8", b" application/json"])
def test_a_json_body_is_not_searched_for_form_fields(content_type, monkeypatch):
    """A body declared JSON skips twisted.web's Content-Type parsing: its args are the query's, and it is still readable."""
    request, parsed = received(content_type, b'{"b": "2"}', monkeypatch)
    assert (parsed, request.args, read_json(request)) == ([], {b"a": [b"1"]}, {"b": "2"})


@pytest.mark.parametrize("content_type", [b"application/x-www-form-urlencoded", b"application/jsonx"])
def test_any_other_body_is_parsed_by_twisted_web_as_before(content_type, monkeypatch):
    """A form's fields still reach args, and any other Content-Type is still parsed by twisted.web."""
    request, parsed = received(content_type, b"b=2", monkeypatch)
    assert parsed == [content_type]
    assert request.args == ({b"a": [b"1"], b"b": [b"2"]} if b"form" in content_type else {b"a": [b"1"]})
