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


def _database(tmp_path):
    from pserv.region.db import Database, make_engine

    return Database(make_engine(f"sqlite:///{tmp_path}/region.sqlite"), reactor=None)


def test_create_token_with_a_role(tmp_path, capsys):
    """create-token --role viewer makes a viewer token; without --role, an admin one; a bad role exits 2."""
    from pserv.region.roles import Role
    from pserv.region.store.tokens import token_credential

    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    assert main(["--data-dir", str(tmp_path), "create-token", "eyes", "--role", "viewer"]) == 0
    viewer = capsys.readouterr().out.split()[-1]
    assert main(["--data-dir", str(tmp_path), "create-token", "ci"]) == 0
    admin = capsys.readouterr().out.strip()
    database = _database(tmp_path)
    assert database.run_now(token_credential, viewer) == ("eyes", Role.VIEWER)
    assert database.run_now(token_credential, admin) == ("ci", Role.ADMIN)
    database.engine.dispose()
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "create-token", "x", "--role", "root"])
    assert caught.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_create_user_from_a_password_file(tmp_path, capsys):
    """create-user reads the password's first line from --password-file and stores only its argon2 hash."""
    from pserv.region.passwords import verify_password
    from pserv.region.store.users import login_user

    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    secret = tmp_path / "password"
    secret.write_text("a-long-password\nignored\n")
    assert main(["--data-dir", str(tmp_path), "create-user", "alice", "--role", "operator",
                 "--password-file", str(secret)]) == 0
    out = capsys.readouterr().out
    assert "user 'alice' (operator) created" in out and "a-long-password" not in out
    database = _database(tmp_path)
    user = database.run_now(login_user, "alice")
    database.engine.dispose()
    assert user.role == "operator" and verify_password(user.password_hash, "a-long-password")


@pytest.mark.parametrize("argv, stdin, message", [
    (["create-user", "alice", "--role", "operator", "--password-file", "-"], "short\n",
     "password: must be 8 to 1024 characters"),
    (["create-user", "alice", "--role", "operator", "--password-file", "-"], "\n", "no password on stdin"),
    (["create-user", "a b", "--role", "operator"], "a-long-password\n", "name: 1 to 63 letters"),
    (["create-user", "alice", "--role", "root"], "a-long-password\n", "invalid choice: 'root'"),
    (["create-user", "alice", "--role", "admin", "--password", "x"], "", "unrecognized arguments: --password"),
    (["create-user", "alice", "--role", "admin", "--password-file", "/nonexistent/pw"], "",
     "--password-file /nonexistent/pw: No such file or directory"),
])
def test_create_user_bad_input_is_one_line(tmp_path, capsys, monkeypatch, argv, stdin, message):
    """Bad input to create-user exits 2 with one line naming it, and never echoes a password."""
    import io

    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert "a-long-password" not in err


def test_create_user_twice_exits_2(tmp_path, capsys, monkeypatch):
    """A taken user name exits 2 with one line; a password from stdin works without a terminal."""
    import io

    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["--data-dir", str(tmp_path), "create-user", "alice", "--role", "viewer"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "create-user", "alice", "--role", "viewer"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "pserv-region: error: a user named 'alice' exists\n"


def test_init_writes_the_first_token_to_a_private_file(tmp_path, capsys):
    """With --token-file, init writes the first token to a 0600 file and prints its path, not the token."""
    token_file = tmp_path / "admin-token"
    assert main(["--data-dir", str(tmp_path / "data"), "init", "--token-file", str(token_file)]) == 0
    out = capsys.readouterr()
    token = token_file.read_text()
    assert token.startswith("pserv_") and token.endswith("\n") and token.strip() not in out.out + out.err
    assert f"admin token written to {token_file}" in out.out and token_file.stat().st_mode & 0o777 == 0o600
    token_file.unlink()
    assert main(["--data-dir", str(tmp_path / "data"), "init", "--token-file", str(token_file)]) == 0
    assert not token_file.exists()


def test_init_refuses_a_token_file_that_exists(tmp_path, capsys):
    """An existing --token-file exits 2 in one line, before anything is made."""
    token_file = tmp_path / "admin-token"
    token_file.write_text("keep me\n")
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path / "data"), "init", "--token-file", str(token_file)])
    assert caught.value.code == 2 and "exists" in capsys.readouterr().err
    assert token_file.read_text() == "keep me\n" and not (tmp_path / "data").exists()


def test_create_user_before_init_is_one_line(tmp_path, capsys, monkeypatch):
    """create-user on a database without the schema exits 1 with one line."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    with pytest.raises(SystemExit) as caught:
        main(["--data-dir", str(tmp_path), "create-user", "alice", "--role", "viewer"])
    err = capsys.readouterr().err
    assert caught.value.code == 1 and err.startswith("pserv-region: error:") and err.count("\n") == 1


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


@pytest_twisted.ensureDeferred
async def test_run_refuses_a_second_region_on_one_sqlite_database(tmp_path, capsys):
    """A second pserv-region run on the data dir of a running one exits 1 with one line naming SQLite's one region."""
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    first = start_region("--data-dir", str(tmp_path), fake=False)
    await first.ready
    try:
        second = start_region("--data-dir", str(tmp_path), fake=False)
        second.ready.addErrback(lambda _: None)
        assert await second.ended == 1
    finally:
        await first.kill("TERM")
    errors = [line for line in second.output.decode().splitlines() if line.startswith("pserv-region: error:")]
    assert len(errors) == 1 and "SQLite serves one region" in errors[0] and "Traceback" not in second.output.decode()


@pytest_twisted.ensureDeferred
async def test_run_that_fails_after_opening_the_database_exits(tmp_path, capsys):
    """A region whose secret is refused once its database pool runs still exits 1 (the pool's threads once kept it alive)."""
    assert main(["--data-dir", str(tmp_path), "init"]) == 0
    (tmp_path / "secret").chmod(0o644)
    region = start_region("--data-dir", str(tmp_path), fake=False)
    region.ready.addErrback(lambda _: None)
    assert await region.ended == 1
    assert b"pserv-region: error:" in region.output and b"Traceback" not in region.output


def test_a_second_regions_init_on_a_shared_postgresql_keeps_the_copied_secret(tmp_path, capsys, schema_url):
    """A second region's init, on the first's PostgreSQL with its secret copied in, finds the schema current, keeps that secret and makes no token."""
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["--data-dir", str(first), "--database", schema_url, "init"]) == 0
    assert "admin token (shown once)" in capsys.readouterr().out
    second.mkdir(mode=0o700)
    (second / "secret").write_text((first / "secret").read_text())
    (second / "secret").chmod(0o600)
    assert main(["--data-dir", str(second), "--database", schema_url, "init"]) == 0
    out = capsys.readouterr().out
    assert "schema ready" in out and "token" not in out
    assert (second / "secret").read_text() == (first / "secret").read_text()
