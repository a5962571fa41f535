"""
Tests for pserv.region.ui.assets.
"""

import re

import pytest

from pserv.region.ui.assets import asset, static_dir, static_url


def test_a_static_path_names_the_files_version():
    """A file's path carries a digest of its content, so a changed file is a new path."""
    assert re.fullmatch(r"/static/pserv\.css\?v=[0-9a-f]{12}", static_url("pserv.css"))
    assert asset("pserv.css").body == (static_dir() / "pserv.css").read_bytes()


@pytest.mark.parametrize("name", ["../setup.py", ".hidden.css", "a/b.css", "pserv.py", "missing.css"])
def test_only_plain_names_of_served_kinds_are_assets(name):
    """A name with a directory, a hidden or unknown kind of file, or none there, is no asset."""
    assert asset(name) is None


def test_no_page_links_a_file_that_is_not_there():
    """static() of a name with no file fails at once rather than linking nothing."""
    with pytest.raises(LookupError):
        static_url("missing.css")


def test_the_pages_need_no_inline_script_or_style():
    """No template has an inline script, a style element or attribute, or an on* handler (the CSP forbids them)."""
    templates = static_dir().parent
    for path in templates.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), path


@pytest.mark.parametrize("name", ["pserv.css", "pserv.js"])
def test_the_static_files_load_nothing_from_elsewhere(name):
    """The stylesheet and the script name no other site: no URL with a scheme, no protocol-relative one, no import."""
    text = asset(name).body.decode()
    assert not re.search(r"\b[a-z]+://|[\"'(]//|@import", text), name
