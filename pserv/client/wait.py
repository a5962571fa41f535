"""
``--wait``: poll power actions on the reactor clock, with bounded backoff,
until every one is final or the time is up: one ``GET /api/v1/actions?ids=``
per round for all the actions still outstanding (per 500 of them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable, Iterable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from pserv.client.errors import ClientError, is_transient
from pserv.client.http import ApiClient
from pserv.client.output import one_line
from pserv.power.states import FINAL, ActionStatus
from pserv.util.backoff import Backoff, exponential

UNSUCCESSFUL = tuple(status for status in ActionStatus if status.final and status is not ActionStatus.DONE)
"""The ways an action can end other than done, in the order the progress line names them."""
OVERDUE = (ActionStatus.TIMED_OUT,)
"""Statuses not final that the progress line names after those: the region
has stopped waiting for the action, though its outcome may still come."""
MAX_IDS = 500
"""The most actions one ``GET /api/v1/actions?ids=`` names."""

Action = dict[str, Any]

POLL_BACKOFF: Backoff = exponential(0.5, 5.0, factor=1.5)
"""Seconds before poll ``n``: 0.5, growing by half each time up to 5."""


@dataclass(frozen=True)
class WaitResult:
    """
    The actions as last seen, and whether the time ran out first.
    """

    actions: list[Action]
    timed_out: bool

    @property
    def outstanding(self) -> list[Action]:
        """
        The actions not yet final.
        """
        return [a for a in self.actions if a["status"] not in FINAL]

    @property
    def succeeded(self) -> bool:
        """
        Whether every action is done (verified) in time.
        """
        return not self.timed_out and all(a["status"] == ActionStatus.DONE for a in self.actions)


def progress_line(actions: Iterable[Action]) -> str:
    """
    ``3/10 done, 1 failed, 2 timed_out``: done out of all, then each
    unsuccessful end, then the actions overdue.
    """
    actions = list(actions)
    counts = Counter(a["status"] for a in actions)
    parts = [f"{counts[ActionStatus.DONE]}/{len(actions)} {ActionStatus.DONE.value}"]
    parts += [f"{counts[s]} {s.value}" for s in UNSUCCESSFUL + OVERDUE if counts[s]]
    return ", ".join(parts)


async def wait_for_actions(
    api: ApiClient, actions: Iterable[Action], clock: IReactorTime, *,
    timeout: float, report: Callable[[str], None], backoff: Backoff = POLL_BACKOFF,
) -> WaitResult:
    """
    Poll ``GET /api/v1/actions?ids=`` for the outstanding actions until all
    are final or ``timeout`` seconds of ``clock`` pass (a ``timed_out``
    action is not final: its outcome may still come). ``report`` gets the
    progress line whenever it changes, and one line per failed poll (an
    unreachable region or a 5xx is retried; other errors are raised, and
    an action the region no longer has is a 404). ``backoff`` gives the
    wait before poll round ``n`` (from zero).
    """
    latest = {a["id"]: a for a in actions}
    deadline = clock.seconds() + timeout
    progress = _Changes(report)
    progress(progress_line(latest.values()))
    delays = map(backoff, count())
    while any(a["status"] not in FINAL for a in latest.values()):
        remaining = deadline - clock.seconds()
        if remaining <= 0:
            return WaitResult(list(latest.values()), timed_out=True)
        await deferLater(clock, min(next(delays), remaining))
        for action in await _poll(api, [i for i, a in latest.items() if a["status"] not in FINAL], report):
            latest[action["id"]] = action
        progress(progress_line(latest.values()))
    return WaitResult(list(latest.values()), timed_out=False)


async def _poll(api: ApiClient, ids: list[int], report: Callable[[str], None]) -> list[Action]:
    """
    The actions ``ids`` now, in one request per :data:`MAX_IDS` of them;
    none when the region cannot answer just now.

    :raises ClientError: 404 when the region no longer has one (its node
        was deleted), or as the region refused the request.
    """
    found: list[Action] = []
    for start in range(0, len(ids), MAX_IDS):
        chunk = ids[start:start + MAX_IDS]
        try:
            response = await api.get("/api/v1/actions", {"ids": ",".join(map(str, chunk))})
        except Exception as e:
            if not is_transient(e):
                raise
            report(f"warning: {one_line(e)}; still waiting")
            return []
        found += response.body["items"]
    missing = sorted(set(ids) - {a["id"] for a in found})
    if missing:
        raise ClientError(404, f"no action {missing[0]}: the region no longer has it (its node was deleted?)")
    return found


class _Changes:
    """
    Passes a line on to ``report`` only when it differs from the last one.
    """

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._last: str | None = None

    def __call__(self, line: str) -> None:
        if line != self._last:
            self._last = line
            self._report(line)
