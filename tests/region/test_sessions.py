"""
Tests for pserv.region.sessions: the session cookie's attributes.
"""

from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from pserv.region.sessions import Sessions, clear_cookie, client_address


class Request(DummyRequest):
    def __init__(self, secure):
        super().__init__([b""])
        self.secure, self.cookies = secure, []

    def isSecure(self):
        return self.secure

    def addCookie(self, name, value, **attributes):
        self.cookies.append((name, value, attributes))


def test_the_cookie_is_secure_over_tls_only():
    """The session cookie is HttpOnly and SameSite=Strict always, Secure when the request came over TLS."""
    sessions = Sessions(None, Clock(), None, lifetime=120)
    for secure in (True, False):
        request = Request(secure)
        sessions.set_cookie(request, "id")
        [(name, value, attributes)] = request.cookies
        assert (name, value) == (b"pserv_session", b"id")
        assert attributes == {"path": b"/", "max_age": b"120", "secure": secure, "httpOnly": True,
                              "sameSite": "strict"}


def test_clearing_the_cookie_expires_it():
    """Clearing sets an empty cookie with Max-Age 0."""
    request = Request(False)
    clear_cookie(request)
    assert request.cookies[0][1:] == (b"", {"path": b"/", "max_age": b"0", "secure": False, "httpOnly": True,
                                            "sameSite": "strict"})


def test_client_address_is_the_peer_host():
    """Failed logins count by the peer's host, or 'unknown' without one."""
    from twisted.internet.address import IPv4Address

    request = DummyRequest([b""])
    assert client_address(request) == "unknown"
    request.client = IPv4Address("TCP", "10.1.2.3", 5555)
    assert client_address(request) == "10.1.2.3"
