"""
Tests for pserv.region.html.
"""

import ast
from pathlib import Path

from twisted.web.test.requesthelper import DummyRequest

from pserv.region.html import HEADERS, render, template_dir

ROOT = Path(__file__).resolve().parents[2]


def test_a_checkout_serves_its_templates_directory():
    """In a checkout, the templates come from the repository's templates/."""
    assert template_dir() == ROOT / "templates" and (template_dir() / "login.html").is_file()


def test_setup_ships_every_template():
    """setup.py installs templates/ as the package pserv.templates, every file in it (and in static/) included."""
    call = next(n for n in ast.walk(ast.parse((ROOT / "setup.py").read_text()))
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    options = {k.arg: k.value for k in call.keywords}
    assert ast.literal_eval(options["package_dir"]) == {"pserv.templates": "templates"}
    patterns = ast.literal_eval(options["package_data"])["pserv.templates"]
    files = [p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*") if p.is_file()]
    assert files and all(any(p.match(pattern) for pattern in patterns) for p in files)
    assert any(p.parts[0] == "static" for p in files)
    assert "pserv.templates" in ast.unparse(options["packages"])


def test_pages_escape_and_carry_the_safety_headers():
    """A rendered page escapes what it is given and carries the no-framing, CSP and no-store headers."""
    request = DummyRequest([b""])
    body = render(request, "error.html", 403, title="Not allowed", message="<script>x</script>").decode()
    assert request.responseCode == 403 and "&lt;script&gt;" in body and "<script>" not in body
    for name, value in HEADERS.items():
        assert request.responseHeaders.getRawHeaders(name) == [value]
