"""
Tests for pserv.scripts.region.
"""

import json

import pytest
import pytest_twisted
import treq

from pserv.scripts.region import main
from tests.region.process import start_region


def test_prints_help(capsys):
    """pserv-region without a command prints help and exits 0."""
    assert main([]) == 0
    assert "create-token" in capsys.readouterr().out


def test_init_then_tokens(tmp_path, capsys):
    """init prints the admin token once; create-token prints a new one; a taken name exits 2."""
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    first = capsys.readouterr().out
    assert "admin token (shown once): pserv_" in first
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    assert "admin token" not in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "create-token", "ci"]) == 0
    assert capsys.readouterr().out.startswith("pserv_")
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "create-token", "ci"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "pserv-region: error: a token named 'ci' exists\n"


def test_bad_config_is_one_line(tmp_path, capsys):
    """A bad setting exits 2 with one line naming it."""
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "run", "--listen", "nowhere"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "pserv-region: error: listen: must be HOST:PORT\n"


def test_unreachable_database_is_one_line(tmp_path, capsys):
    """An unusable database exits 1 with one line, not a traceback."""
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "--database", "sqlite:////nonexistent/dir/x.db", "init"])
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("pserv-region: error:") and err.count("\n") == 1


@pytest_twisted.ensureDeferred
async def test_run_is_on_the_default_reactor_and_knows_no_fake(tmp_path, capsys):
    """pserv-region run says it runs on Twisted's default reactor, and answers a fake node 400 naming power_type."""
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    token = capsys.readouterr().out.split("admin token (shown once): ")[1].strip()
    region = start_region("--data-dir", str(tmp_path), fake=False)
    url = await region.ready
    try:
        node = {"name": "n1", "power_type": "fake", "power_parameters": {"address": "b1"}}
        response = await treq.post(f"{url}/api/v1/nodes", json=node, headers={"Authorization": [f"Bearer {token}"]})
        refused = json.loads(await response.content())
    finally:
        await region.kill("TERM")
    assert response.code == 400 and refused["field"] == "power_type"
    assert refused["error"].startswith("power_type: unknown driver 'fake'; known: ipmi, manual")
    assert b"reactor class: twisted.internet.epollreactor.EPollReactor" in region.output
