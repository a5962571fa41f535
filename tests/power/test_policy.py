"""
Tests for pserv.power.policy.
"""

import pytest

from pserv.power.policy import DEFAULT_POLICY, VerifyPolicy


def test_default_backoff():
    """The default waits 0.5, 1, 2, 4, 8 s, then 8 s again, within 60 s."""
    assert [DEFAULT_POLICY.backoff(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert DEFAULT_POLICY.deadline == 60


@pytest.mark.parametrize(
    "bad",
    [
        {"backoff": lambda attempt: 0.0},
        {"backoff": lambda attempt: -1.0},
        {"deadline": 0},
        {"read_timeout": -1},
        {"query_deadline": 0},
        {"cycle_delay": -1},
    ],
)
def test_nonsense_refused(bad):
    """A policy that could never verify, or would wait backwards, is refused."""
    with pytest.raises(ValueError):
        VerifyPolicy(**bad)
