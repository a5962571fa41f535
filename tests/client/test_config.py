"""
Tests for pserv.client.config.
"""

import stat
from argparse import Namespace

import pytest

from pserv.client.config import (
    Credentials, check_token, check_url, config_path, load_config, resolve_credentials, save_config,
)
from pserv.client.errors import ConfigError, UsageError


def test_save_makes_a_0600_file_in_a_0700_directory(tmp_path):
    """The stored login is readable by its owner only, in a directory only they can enter."""
    path = tmp_path / "new" / "cli.yaml"
    save_config(path, "https://region:5240", "tok")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_config(path) == {"url": "https://region:5240", "token": "tok"}


def test_save_replaces_and_tightens_an_existing_file(tmp_path):
    """Saving over a world-readable file leaves a 0600 file with the new login and no temporary."""
    path = tmp_path / "cli.yaml"
    path.write_text("url: http://old\ntoken: old\n")
    path.chmod(0o644)
    save_config(path, "http://new", "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path)["token"] == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["cli.yaml"]


def test_config_path_default_and_override(tmp_path):
    """$PSERV_CONFIG wins; otherwise ~/.config/pserv/cli.yaml."""
    assert config_path({"PSERV_CONFIG": str(tmp_path / "x.yaml")}) == tmp_path / "x.yaml"
    assert str(config_path({})).endswith(".config/pserv/cli.yaml")


@pytest.mark.parametrize("text", ["- a list\n", "url: http://r\n", "url: [\n"])
def test_a_file_that_is_not_a_login_is_a_config_error(tmp_path, text):
    """A stored file that is not {url, token} is a one-line ConfigError naming the file."""
    path = tmp_path / "cli.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="not a pserv login"):
        load_config(path)


def test_no_file_is_no_login(tmp_path):
    """A missing file is simply no stored login."""
    assert load_config(tmp_path / "absent.yaml") is None


def args(url=None, token=None):
    return Namespace(api_url=url, api_token=token)


def stored(tmp_path, url="http://stored:1", token="stored-token"):
    save_config(tmp_path / "cli.yaml", url, token)
    return {"PSERV_CONFIG": str(tmp_path / "cli.yaml")}


def test_options_beat_the_environment_beat_the_stored_login(tmp_path):
    """--url/--token win over PSERV_URL/PSERV_TOKEN, which win over the stored login."""
    env = stored(tmp_path)
    assert resolve_credentials(args(), env) == Credentials("http://stored:1", "stored-token")
    env |= {"PSERV_URL": "http://stored:1/", "PSERV_TOKEN": "env-token"}
    assert resolve_credentials(args(), env).token == "env-token"
    assert resolve_credentials(args("http://opt:2", "opt-token"), env) == Credentials("http://opt:2", "opt-token")


def test_a_stored_token_goes_only_to_the_stored_url(tmp_path):
    """Pointing --url at another region does not send it the stored token."""
    env = stored(tmp_path)
    with pytest.raises(ConfigError, match="no token for http://other:1"):
        resolve_credentials(args("http://other:1"), env)
    assert resolve_credentials(args("http://stored:1/"), env).token == "stored-token"


def test_nothing_stored_says_to_log_in(tmp_path):
    """With no login anywhere, the error says to run pserv login."""
    with pytest.raises(ConfigError, match="run pserv login URL TOKEN"):
        resolve_credentials(args(), {"PSERV_CONFIG": str(tmp_path / "none.yaml")})


@pytest.mark.parametrize("url", ["region:5240", "ftp://region", "http://u:p@region", "http://r/?x=1", "http://"])
def test_bad_urls_are_usage_errors(url):
    """Only http(s) URLs with a host, and no credentials, query or fragment, are accepted."""
    with pytest.raises(UsageError):
        check_url(url)


def test_bad_tokens_are_refused_without_showing_them():
    """A token with spaces or control characters is refused, and the message does not repeat it."""
    for token in ["", "two words", "line\nbreak"]:
        with pytest.raises(UsageError) as caught:
            check_token(token)
        assert token not in str(caught.value) or not token
    assert check_token("abc.DEF-123_=") == "abc.DEF-123_="


def test_credentials_repr_hides_the_token():
    """Credentials can be logged: the token is not in their repr."""
    assert "s3cret" not in repr(Credentials("http://r", "s3cret"))
