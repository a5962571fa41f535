"""
Tests for pserv.client.settings.
"""

from pserv.client.settings import convert
from pserv.power.settings import typed_value


def test_set_values_convert_as_the_forms_do():
    """A --set value is converted by the one conversion the web UI's forms use too."""
    assert convert is typed_value and convert("integer", "623") == 623
