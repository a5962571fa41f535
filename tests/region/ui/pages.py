"""
The UI's pages over real HTTP for tests: GETs and form POSTs with a
session's cookie (and its CSRF token as the form field, as a browser
sends it), and the answer's HTML parsed into elements to look into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode

import treq

FORM = {"Content-Type": ["application/x-www-form-urlencoded"]}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    """One HTML element: its tag, attributes and children (elements and text)."""

    tag: str
    attrs: dict
    children: list = field(default_factory=list)

    def text(self) -> str:
        """Its text, spaces collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join("".join(parts).split())

    def all(self, tag: str | None = None, **attrs) -> list[Element]:
        """Every element under it with ``tag`` and ``attrs`` (``True``: present; ``class_``: one of its classes)."""
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.matches(tag, attrs):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs) -> Element:
        """The one element under it with ``tag`` and ``attrs``."""
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def matches(self, tag: str | None, attrs: dict) -> bool:
        if tag is not None and self.tag != tag:
            return False
        for name, wanted in attrs.items():
            if name == "class_":
                if wanted not in (self.attrs.get("class") or "").split():
                    return False
                continue
            name = name.replace("_", "-") if name.startswith(("data_", "aria_")) else name
            if wanted is True and name not in self.attrs:
                return False
            if wanted is not True and self.attrs.get(name) != wanted:
                return False
        return True


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: ("" if v is None else v) for k, v in attrs})
        self.open[-1].children.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.open[-1].children.append(Element(tag, {k: ("" if v is None else v) for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse(text: str) -> Element:
    """An HTML document, or fragment, as elements."""
    parser = _Parser()
    parser.feed(text)
    parser.close()
    return parser.root


@dataclass
class Answer:
    """A page's status, headers, text and parsed HTML."""

    status: int
    headers: object
    text: str

    @property
    def html(self) -> Element:
        return parse(self.text)

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None


async def get(served, path: str, session=None) -> Answer:
    """GET ``path`` with ``session``'s cookie (none if ``None``), not following redirects."""
    headers = session.headers(csrf=False) if session else {}
    response = await treq.get(served.base + path, headers=headers, allow_redirects=False)
    return Answer(response.code, response.headers, await response.text())


async def post(served, path: str, fields, session=None, csrf: bool = True) -> Answer:
    """POST the form ``fields`` (a dict or pairs) to ``path``, with the CSRF token field unless ``csrf`` is false."""
    pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
    if session and csrf:
        pairs.append(("csrf_token", session.csrf))
    headers = {**FORM, **(session.headers(csrf=False) if session else {})}
    response = await treq.post(served.base + path, data=urlencode(pairs).encode(), headers=headers,
                               allow_redirects=False)
    return Answer(response.code, response.headers, await response.text())


def add_node(served, name: str, power_type: str = "fake", cluster: str | None = "rack-1", **parameters) -> dict:
    """A node enrolled in the store (``fake`` unless said), its parameters ``address`` and ``parameters``."""
    from pserv.region.store.nodes import create_node
    from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE

    body = {"name": name, "power_type": power_type, "cluster": cluster,
            "power_parameters": parameters or {"address": f"bmc-{name}"}}
    return served.database.run_now(create_node, body, served.api.now(), power_types=POWER_TYPES_WITH_FAKE)


def observe(served, node_id: int, state: str, seconds_ago: float | None, error: str | None = None) -> None:
    """Say the node's power was read as ``state`` ``seconds_ago`` before the region's clock (never if None)."""
    from datetime import timedelta

    from sqlalchemy import update

    from pserv.region import schema

    at = None if seconds_ago is None else served.api.now() - timedelta(seconds=seconds_ago)
    served.database.run_now(lambda c: c.execute(update(schema.nodes).where(schema.nodes.c.id == node_id).values(
        power_state=state, power_state_observed_at=at, power_error=error)))
