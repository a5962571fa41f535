"""
Writing to the terminal: JSON for scripts, one-line messages on stderr.
Streams are looked up at each call, so tests can capture them.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

PROG = "pserv"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: Any) -> str:
    """
    ``text`` as one printable line: control characters and runs of
    whitespace become one space, so a server's message cannot break a
    line or move the cursor.
    """
    return " ".join(_UNPRINTABLE.sub(" ", str(text)).split())


def print_json(data: Any) -> None:
    """
    ``data`` as indented JSON on stdout.
    """
    print(json.dumps(data, indent=2), flush=True)


def print_json_line(data: Any) -> None:
    """
    ``data`` as one line of JSON on stdout, flushed (for ``--follow``).
    """
    print(json.dumps(data, separators=(",", ":")), flush=True)


def say(text: str) -> None:
    """
    ``text`` on stdout.
    """
    print(text, flush=True)


def note(message: str) -> None:
    """
    ``pserv: MESSAGE`` on stderr: progress and remarks, never data.
    """
    print(f"{PROG}: {one_line(message)}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    """
    ``pserv: error: MESSAGE`` on stderr, as one line.
    """
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr, flush=True)


def note_more(page: dict[str, Any], cursor: str = "after") -> None:
    """
    When ``--limit`` cut a list short, say on stderr how to see the rest.
    """
    if page.get("next") and page.get("items"):
        note(f"more: add --{cursor} {page['items'][-1]['id']}")
