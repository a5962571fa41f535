"""
Tests for pserv.power.types.redfish_endpoint: the ``address`` setting.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from pserv.power.types.redfish_endpoint import Endpoint, parse_address
from pserv.power.errors import PowerSettingsError


@pytest.mark.parametrize(
    "address, expected",
    [
        ("bmc1.example.com", Endpoint("https", "bmc1.example.com", 443)),
        ("10.0.0.9:8443", Endpoint("https", "10.0.0.9", 8443)),
        ("  10.0.0.9 ", Endpoint("https", "10.0.0.9", 443)),
        ("http://127.0.0.1:8000", Endpoint("http", "127.0.0.1", 8000)),
        ("HTTPS://BMC.example.com/redfish/v1/", Endpoint("https", "bmc.example.com", 443)),
        ("fe80::1", Endpoint("https", "fe80::1", 443)),
        ("[2001:db8::7]:8443", Endpoint("https", "2001:db8::7", 8443)),
        ("https://[2001:db8::7]", Endpoint("https", "2001:db8::7", 443)),
    ],
)
def test_parses_host_host_port_and_urls(address: str, expected: Endpoint) -> None:
    """A host, host:port or URL parses to scheme, host and port, HTTPS by default."""
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "",
        "ftp://bmc",
        "https://bmc/some/where",
        "https://bmc/?x=1",
        "bmc:0",
        "bmc:99999",
        "bmc:http",
        "bad_host!",
        "https://",
        "-leading-dash",
    ],
)
def test_rejects_bad_addresses_naming_the_field(address: str) -> None:
    """A bad address raises PowerSettingsError with field ``address``."""
    with pytest.raises(PowerSettingsError) as raised:
        parse_address(address)
    assert raised.value.field == "address"
    assert str(raised.value).startswith("address: ")


def test_credentials_in_the_url_are_refused_and_not_repeated() -> None:
    """A URL holding user:password is refused and the message omits them."""
    with pytest.raises(PowerSettingsError) as raised:
        parse_address("https://root:hunter2@bmc.example.com")
    assert raised.value.field == "address"
    assert "hunter2" not in str(raised.value) and "root" not in str(raised.value)


def test_verify_tls_is_carried_on_the_endpoint() -> None:
    """The verify_tls choice is part of the endpoint, so it keys caches and pools."""
    assert parse_address("bmc", verify_tls=False).verify_tls is False
    assert parse_address("bmc") != parse_address("bmc", verify_tls=False)


def test_urls_bracket_ipv6_hosts() -> None:
    """An IPv6 endpoint builds a URL with the host in brackets."""
    assert parse_address("2001:db8::7").url("/redfish/v1/") == "https://[2001:db8::7]:443/redfish/v1/"


@given(st.ip_addresses(), st.integers(min_value=1, max_value=65535), st.sampled_from(["http", "https"]))
def test_any_ip_and_port_round_trip_through_a_url(ip, port: int, scheme: str) -> None:
    """Any IP address and port parse back from the URL the endpoint builds."""
    endpoint = Endpoint(scheme, str(ip), port)
    parsed = parse_address(endpoint.url("/"))
    assert parsed == endpoint
    assert ipaddress.ip_address(parsed.host) == ip
