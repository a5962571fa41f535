"""
Fixtures shared by the tests of pserv.power: a hand-driven clock and a
registry on it.
"""

import pytest
from twisted.internet.task import Clock

from pserv.power.registry import PowerActionRegistry


@pytest.fixture
def clock():
    """A Clock that moves only when a test advances it."""
    return Clock()


@pytest.fixture
def registry(clock):
    """A registry whose actions wait on ``clock``."""
    return PowerActionRegistry(clock)
