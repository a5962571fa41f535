"""
Backoff policies: how long to wait before attempt ``n``.

A policy is a ``Callable[[int], float]`` taking the attempt number (from
zero) and giving seconds, the shape of the ``retryPolicy`` of Twisted's
``ClientService``.  pserv's policies are Twisted's own
:func:`~twisted.application.internet.backoffPolicy` without its jitter:
verification reads, Redfish retries and ``--wait`` polls run on an injected
clock, and their waits are documented (and tested) to the millisecond.  A
wait that does not grow by a factor (the cluster's report retries) is a
:func:`stepped` sequence, which Twisted has no policy for.  The RPC
reconnection (:mod:`pserv.rpc.service`) keeps Twisted's jitter, since many
clusters reconnecting at once should not stay in step.
"""

from __future__ import annotations

from typing import Callable, Sequence

from twisted.application.internet import backoffPolicy

Backoff = Callable[[int], float]
"""Seconds to wait before attempt ``n`` (from zero)."""


def no_jitter() -> float:
    """
    Twisted's ``jitter`` that adds nothing, so a policy's waits are exact.
    """
    return 0.0


def exponential(first: float, cap: float, factor: float = 2.0) -> Backoff:
    """
    ``first``, then each wait ``factor`` times the last, never above ``cap``.

    ``exponential(0.5, 8.0)`` waits 0.5, 1, 2, 4, 8, 8, ... seconds;
    ``exponential(0.1, 0.1)`` waits 0.1 s every time.

    :param first: seconds before attempt 0.
    :param cap: the longest wait, in seconds.
    :param factor: how much each wait grows over the last.
    :raises ValueError: for a wait that is not positive, a cap below the
        first wait, or waits that would shrink.
    """
    if first <= 0:
        raise ValueError("the first wait must be a positive number of seconds")
    if cap < first:
        raise ValueError("the cap must not be below the first wait")
    if factor < 1:
        raise ValueError("the factor must be at least 1: waits never shrink")
    return backoffPolicy(first, cap, factor, jitter=no_jitter)


def stepped(delays: Sequence[float]) -> Backoff:
    """
    ``delays[n]`` before attempt ``n``; the last delay repeats.

    :param delays: seconds, in order; at least one, each positive.
    :raises ValueError: for no delays, or one that is not positive.
    """
    waits = tuple(delays)
    if not waits or any(wait <= 0 for wait in waits):
        raise ValueError("delays must be a non-empty list of positive seconds")

    def policy(attempt: int) -> float:
        return waits[min(attempt, len(waits) - 1)]

    return policy


def longest(backoff: Backoff, attempts: int) -> float:
    """
    The longest of the first ``attempts`` waits of ``backoff``.

    :param attempts: how many waits to look at; at least one.
    """
    return max(backoff(attempt) for attempt in range(max(attempts, 1)))
