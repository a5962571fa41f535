"""
Reading a password for the command line: from a file's first line, from
stdin, or from a prompt that does not echo, and never from the command
line itself (where ``ps`` and shell history would show it).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Callable, TextIO


class PasswordError(Exception):
    """No usable password: a one-line reason, never the password."""


def read_password(path: str | None, stdin: TextIO | None = None,
                  prompt: Callable[[str], str] = getpass.getpass) -> str:
    """
    The password: the first line of the file ``path`` (``-``: stdin);
    without ``path``, typed twice at a prompt when stdin is a terminal,
    else the first line of stdin.

    :raises PasswordError: if the file cannot be read, it is empty, or the
        two typed differ.
    """
    stdin = stdin or sys.stdin
    if path == "-" or (path is None and not stdin.isatty()):
        return _first_line(stdin.readline(), "stdin")
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PasswordError(f"--password-file {path}: {getattr(e, 'strerror', None) or 'not UTF-8 text'}") from None
        return _first_line(text.splitlines()[0] if text else "", path)
    first = prompt("Password: ")
    if prompt("Password again: ") != first:
        raise PasswordError("the two passwords differ")
    return _first_line(first, "the prompt")


def _first_line(line: str, source: str) -> str:
    password = line.rstrip("\r\n")
    if not password:
        raise PasswordError(f"no password on {source}")
    return password
