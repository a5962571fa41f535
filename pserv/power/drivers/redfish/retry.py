"""
When a Redfish request is sent again, and how long to wait first.

A busy BMC answers 409 Conflict (another operation holds the resource),
429 Too Many Requests or 503 Service Unavailable.  All three say the BMC did
*not* act, so sending again is safe even for a POST.  500, 502 and 504 do
not say that: the reset may have been applied before the error, and a reset
must never be sent twice, so those are retried only for reads (a GET changes
nothing).  Everything else is final.  The waits are short and bounded, run
on the injected clock, and a ``Retry-After`` is honoured up to the longest
wait.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from pserv.power.drivers.redfish.http import Reply
from pserv.util.backoff import Backoff, exponential, longest

BUSY = frozenset({409, 429, 503})
"""Statuses that say the BMC did not act: any request may be sent again."""

FAILING = frozenset({500, 502, 504})
"""Statuses after which only a read may be sent again."""

SAFE_METHODS = frozenset({"GET", "HEAD"})

DEFAULT_BACKOFF: Backoff = exponential(0.5, 2.0)
"""Seconds before retry ``n``: 0.5, 1, then 2."""

DEFAULT_RETRIES = 3
"""The most times one request is sent again."""


def retryable(method: str, code: int) -> bool:
    """
    Whether a reply with status ``code`` to ``method`` may be sent again.
    """
    return code in BUSY or (code in FAILING and method.upper() in SAFE_METHODS)


def retry_delay(backoff: Backoff, attempt: int, retries: int, retry_after: str | None = None) -> float:
    """
    Seconds to wait before retry number ``attempt`` (from zero).

    A ``Retry-After`` in seconds replaces the delay, capped at the longest
    wait of the ``retries`` so a BMC cannot stall us; an HTTP-date is
    ignored.

    :param backoff: the waits before the retries.
    :param retries: how many retries there are at most.
    :param retry_after: the reply's ``Retry-After`` header, if any.
    """
    delay = backoff(attempt)
    if retry_after is not None and retry_after.strip().isdigit():
        delay = min(float(retry_after.strip()), longest(backoff, retries))
    return delay


async def with_retries(
    clock: Any,
    send: Callable[[], Deferred[Reply]],
    method: str,
    backoff: Backoff = DEFAULT_BACKOFF,
    retries: int = DEFAULT_RETRIES,
) -> Reply:
    """
    Call ``send`` until its reply is not retryable or ``retries`` are spent.

    :param clock: provides ``callLater``; the waits run on it.
    :param send: sends the request once.
    :param method: the request's method, which decides what is retryable.
    :param backoff: the wait before retry ``n`` (from zero).
    :param retries: the most times the request is sent again.
    :returns: the last reply, whatever its status.
    """
    reply = await send()
    for attempt in range(retries):
        if not retryable(method, reply.code):
            break
        await deferLater(clock, retry_delay(backoff, attempt, retries, reply.header("Retry-After")))
        reply = await send()
    return reply
