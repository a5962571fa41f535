"""
Tests for pserv.client.login: ``pserv login URL TOKEN``.
"""

import stat

import pytest
import pytest_twisted
import yaml

from pserv.client.http import ApiClient
from pserv.client.login import _in_clear
from tests.client.conftest import run
from pserv.testing.region_stub import TOKEN


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "pserv" / "cli.yaml"
    monkeypatch.setenv("PSERV_CONFIG", str(path))
    return path


@pytest_twisted.ensureDeferred
async def test_login_checks_the_token_and_stores_it_0600(api, stub, region_url, config, capsys):
    """Login checks the token with GET /api/v1/drivers, stores URL and token mode 0600, and never prints the token."""
    stub.on("GET", "/api/v1/drivers", 200, [])
    assert await run(["login", region_url, TOKEN], api) == 0
    assert [(r.path, r.authorization) for r in stub.requests] == [("/api/v1/drivers", f"Bearer {TOKEN}")]
    assert yaml.safe_load(config.read_text()) == {"url": region_url, "token": TOKEN}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    out, err = capsys.readouterr()
    assert out == f"Logged in to {region_url}; stored in {config}\n" and err == ""
    assert TOKEN not in out + err


@pytest_twisted.ensureDeferred
async def test_a_refused_token_is_not_stored(region_url, stub, config, capsys):
    """A 401 exits 1 saying the token was refused; nothing is stored and the token is not shown."""
    from twisted.internet import reactor

    wrong = ApiClient(region_url, "wrong-token", reactor)
    assert await run(["login", region_url, "wrong-token"], wrong) == 1
    assert not config.exists()
    out, err = capsys.readouterr()
    assert err == f"pserv: error: {region_url} refused the token: no valid bearer token\n"
    assert "wrong-token" not in out + err


@pytest.mark.parametrize("url, clear", [
    ("http://region.example:5240", True), ("http://10.1.2.3", True),
    ("https://region.example", False), ("http://127.0.0.1:5240", False), ("http://localhost", False),
    ("http://[::1]:80", False),
])
def test_warns_only_for_plain_http_to_another_host(url, clear):
    """The unencrypted-token warning is for http:// to a host other than this one."""
    assert _in_clear(url) is clear
