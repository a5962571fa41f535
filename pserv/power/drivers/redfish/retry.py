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

from typing import Any, Callable, Sequence

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from pserv.power.drivers.redfish.http import Reply

BUSY = frozenset({409, 429, 503})
"""Statuses that say the BMC did not act: any request may be sent again."""

FAILING = frozenset({500, 502, 504})
"""Statuses after which only a read may be sent again."""

SAFE_METHODS = frozenset({"GET", "HEAD"})

DEFAULT_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
"""Seconds before each retry; their count is the most retries made."""


def retryable(method: str, code: int) -> bool:
    """
    Whether a reply with status ``code`` to ``method`` may be sent again.
    """
    return code in BUSY or (code in FAILING and method.upper() in SAFE_METHODS)


def backoff(attempt: int, delays: Sequence[float], retry_after: str | None = None) -> float:
    """
    Seconds to wait before retry number ``attempt`` (from zero).

    A ``Retry-After`` in seconds replaces the delay, capped at the longest
    delay so a BMC cannot stall us; an HTTP-date is ignored.
    """
    delay = delays[min(attempt, len(delays) - 1)]
    if retry_after is not None and retry_after.strip().isdigit():
        delay = min(float(retry_after.strip()), max(delays))
    return delay


async def with_retries(
    clock: Any,
    send: Callable[[], Deferred[Reply]],
    method: str,
    delays: Sequence[float] = DEFAULT_DELAYS,
) -> Reply:
    """
    Call ``send`` until its reply is not retryable or the delays run out.

    :param clock: provides ``callLater``; the waits run on it.
    :returns: the last reply, whatever its status.
    """
    reply = await send()
    for attempt in range(len(delays)):
        if not retryable(method, reply.code):
            break
        await deferLater(clock, backoff(attempt, delays, reply.header("Retry-After")))
        reply = await send()
    return reply
