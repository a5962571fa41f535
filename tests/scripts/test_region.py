"""
Tests for pserv.scripts.region.
"""

import pytest

from pserv.scripts.region import main


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
