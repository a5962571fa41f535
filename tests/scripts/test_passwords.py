"""
Tests for pserv.scripts.passwords.
"""

import io

import pytest

from pserv.scripts.passwords import PasswordError, read_password


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_file_gives_its_first_line(tmp_path):
    """--password-file gives the file's first line, without its line ending."""
    path = tmp_path / "pw"
    path.write_text("first-line\r\nsecond\n")
    assert read_password(str(path)) == "first-line"


def test_stdin_when_asked_or_not_a_terminal():
    """- reads stdin; so does no file when stdin is not a terminal."""
    assert read_password("-", io.StringIO("from-stdin\n")) == "from-stdin"
    assert read_password(None, io.StringIO("piped\n")) == "piped"


def test_a_terminal_is_prompted_twice():
    """On a terminal the password is typed twice; two that differ are refused."""
    typed = iter(["same-password", "same-password"])
    assert read_password(None, Terminal(), lambda _: next(typed)) == "same-password"
    typed = iter(["one-password", "another-password"])
    with pytest.raises(PasswordError, match="the two passwords differ"):
        read_password(None, Terminal(), lambda _: next(typed))


def test_empty_or_unreadable_is_refused(tmp_path):
    """An empty file, an empty line or a missing file is refused with one line."""
    (tmp_path / "empty").write_text("")
    for path in (str(tmp_path / "empty"), str(tmp_path / "missing")):
        with pytest.raises(PasswordError):
            read_password(path)
    with pytest.raises(PasswordError, match="no password on stdin"):
        read_password("-", io.StringIO("\n"))
