"""
Screenshots of the UI for docs/ui.md, taken by the browser tests as they
go: ``shoot(page, "nodes-list")`` saves docs/screenshots/nodes-list.png at
the tests' viewport, 1280×800, so the pictures in the docs are the pages
as the last test run saw them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH, HEIGHT = 1280, 800
NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def shoot(page: Any, name: str) -> Path:
    """
    Save what ``page`` shows as docs/screenshots/NAME.png (the viewport,
    1280×800) and return its path.

    :raises ValueError: for a name that is not lower-case words joined by ``-``.
    """
    if not NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: use lower-case letters, digits and '-'")
    size = page.viewport_size
    if size != {"width": WIDTH, "height": HEIGHT}:
        raise ValueError(f"screenshot {name}: the page is {size}, not {WIDTH}×{HEIGHT}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
