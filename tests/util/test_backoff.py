"""
Tests for pserv.util.backoff: Twisted's backoffPolicy without jitter, and fixed sequences.
"""

import pytest

from pserv.util.backoff import exponential, longest, no_jitter, stepped


def test_exponential_doubles_up_to_its_cap():
    """exponential(0.5, 8) waits 0.5, 1, 2, 4, 8 s, then 8 s for good."""
    backoff = exponential(0.5, 8.0)
    assert [backoff(n) for n in range(7)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert backoff(10_000) == 8.0


def test_exponential_grows_by_its_factor():
    """A factor of 1.5 from 0.5 s gives 0.5, 0.75, 1.125, ... capped at 5 s."""
    backoff = exponential(0.5, 5.0, factor=1.5)
    assert [backoff(n) for n in range(4)] == [0.5, 0.75, 1.125, 1.6875]
    assert max(backoff(n) for n in range(50)) == 5.0


def test_a_cap_equal_to_the_first_wait_is_a_constant_wait():
    """exponential(x, x) waits x seconds every time."""
    assert [exponential(0.1, 0.1)(n) for n in range(3)] == [0.1, 0.1, 0.1]


def test_waits_are_exact():
    """No jitter: the same attempt always waits the same, and no_jitter adds nothing."""
    backoff = exponential(0.25, 1.0)
    assert [backoff(1) for _ in range(5)] == [0.5] * 5
    assert no_jitter() == 0.0


@pytest.mark.parametrize(
    "first, cap, factor",
    [(0.0, 1.0, 2.0), (-1.0, 1.0, 2.0), (1.0, 0.0, 2.0), (2.0, 1.0, 2.0), (1.0, 4.0, 0.5)],
)
def test_nonsense_refused(first, cap, factor):
    """A policy that would not wait, or whose waits would shrink, is refused."""
    with pytest.raises(ValueError):
        exponential(first, cap, factor)


def test_longest_is_the_longest_of_the_first_attempts():
    """longest() looks only at the waits before the given number of attempts."""
    backoff = exponential(0.5, 8.0)
    assert longest(backoff, 3) == 2.0
    assert longest(backoff, 1) == 0.5
    assert longest(backoff, 0) == 0.5


def test_stepped_follows_its_delays_then_repeats_the_last():
    """stepped((0.5, 1, 2, 5, 10)) waits those seconds in order, then 10 s for good."""
    backoff = stepped((0.5, 1.0, 2.0, 5.0, 10.0))
    assert [backoff(n) for n in range(7)] == [0.5, 1, 2, 5, 10, 10, 10]


@pytest.mark.parametrize("delays", [(), (1.0, 0.0), (-1.0,)])
def test_stepped_refuses_waits_that_are_not_positive(delays):
    """A sequence with no delay, or one that is not positive, is refused."""
    with pytest.raises(ValueError):
        stepped(delays)
