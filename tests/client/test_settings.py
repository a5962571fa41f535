"""
Tests for pserv.client.settings.
"""

import pytest

from pserv.client.settings import convert


@pytest.mark.parametrize(
    "kind, value, sent",
    [
        ("integer", "623", 623), ("integer", " -5 ", -5), ("integer", "6x", "6x"), ("integer", "", ""),
        ("number", "2.5", 2.5), ("number", "nan", "nan"), ("number", "soon", "soon"),
        ("boolean", "Yes", True), ("boolean", "off", False), ("boolean", "maybe", "maybe"),
        ("string", "623", "623"), ("choice", "1", "1"), (None, "7", "7"),
    ],
)
def test_convert(kind, value, sent):
    """A --set value takes its setting's JSON type when it converts, and stays as typed when it does not."""
    assert convert(kind, value) == sent
