"""
Tests for pserv.client.wait: polling actions on a Clock until they are final.
"""

from twisted.internet.defer import Deferred

from pserv.client.errors import ClientError, UnreachableError
from pserv.client.wait import POLL_BACKOFF, progress_line, wait_for_actions
from pserv.testing.region_stub import action
from pserv.util.backoff import exponential


def test_backoff_grows_to_its_cap():
    """Delays start at first, grow by factor, and never pass the cap."""
    assert [exponential(1, 3, factor=2)(n) for n in range(5)] == [1, 2, 3, 3, 3]
    assert [POLL_BACKOFF(n) for n in range(3)] == [0.5, 0.75, 1.125]
    assert max(POLL_BACKOFF(n) for n in range(50)) == 5.0


def test_progress_line():
    """Progress counts done out of all, then each unsuccessful end that happened."""
    statuses = ["done", "done", "running", "failed", "cancelled", "pending"]
    assert progress_line(action(i, status=s) for i, s in enumerate(statuses)) == "2/6 done, 1 failed, 1 cancelled"
    assert progress_line([action(status="pending")]) == "0/1 done"


def test_progress_line_names_timed_out_actions_last():
    """An action the region timed out is not an end, but the progress line counts it, after the ends."""
    statuses = ["timed_out", "failed", "timed_out", "done"]
    assert progress_line(action(i, status=s) for i, s in enumerate(statuses)) == "1/4 done, 1 failed, 2 timed_out"


class Scripted:
    """An API whose GET /api/v1/actions?ids= answers from a script, one step (an action, or an error) per call."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls = []

    async def get(self, path, params=None):
        self.calls.append((path, params))
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        from pserv.client.http import ApiResponse

        return ApiResponse(200, {"items": [step], "next": None})


class Region:
    """An API whose GET /api/v1/actions?ids= answers every action named, in id order, with ``status``."""

    def __init__(self, status):
        self.status = status
        self.calls = []

    async def get(self, path, params=None):
        from pserv.client.http import ApiResponse

        ids = [int(i) for i in params["ids"].split(",")]
        self.calls.append(len(ids))
        return ApiResponse(200, {"items": [action(i, status=self.status) for i in sorted(set(ids))], "next": None})


def waiting(api, clock, timeout=60, backoff=exponential(1, 3, factor=2)):
    reports = []
    d = Deferred.fromCoroutine(wait_for_actions(
        api, [action(10, status="pending")], clock, timeout=timeout, report=reports.append, backoff=backoff))
    return d, reports


def test_polls_on_the_backoff_schedule_until_final(clock):
    """Polls come at 1, 3, 6 s on the clock; progress is reported only when it changes."""
    api = Scripted(action(10, status="running"), action(10, status="running"), action(10, status="done"))
    d, reports = waiting(api, clock)
    for at, polls in [(0.9, 0), (1, 1), (2.9, 1), (3, 2), (6, 3)]:
        clock.advance(at - clock.seconds())
        assert len(api.calls) == polls
    assert d.result.succeeded and not d.result.timed_out
    assert reports == ["0/1 done", "1/1 done"]
    assert api.calls == [("/api/v1/actions", {"ids": "10"})] * 3


def test_times_out_on_the_clock(clock):
    """An action still running at the timeout: a result that timed out, polled once more at the deadline."""
    api = Scripted(action(10, status="running"))
    d, _ = waiting(api, clock, timeout=4)
    clock.advance(1)
    clock.advance(2)
    assert not d.called
    clock.advance(1)
    assert d.result.timed_out and [a["id"] for a in d.result.outstanding] == [10]
    assert len(api.calls) == 3 and clock.getDelayedCalls() == []


def test_a_region_that_goes_away_is_polled_again(clock):
    """No answer during a wait is reported and retried; the wait goes on."""
    api = Scripted(UnreachableError("cannot reach http://r: connection refused"), action(10, status="done"))
    d, reports = waiting(api, clock)
    clock.advance(1)
    clock.advance(2)
    assert d.result.succeeded
    assert reports == ["0/1 done", "warning: cannot reach http://r: connection refused; still waiting", "1/1 done"]


def test_a_missing_action_ends_the_wait(clock):
    """A 404 while polling is not retried: it is raised."""
    d, _ = waiting(Scripted(ClientError(404, "no such action")), clock)
    clock.advance(1)
    assert d.result.value.status == 404
    d.addErrback(lambda f: None)


def test_one_request_a_round_for_up_to_500_actions(clock):
    """1,200 outstanding actions are polled in three requests a round (500, 500, 200), not one each."""
    region = Region("done")
    d = Deferred.fromCoroutine(wait_for_actions(
        region, [action(i) for i in range(1, 1201)], clock, timeout=60, report=lambda line: None,
        backoff=exponential(1, 3, factor=2)))
    clock.advance(1)
    assert d.result.succeeded and region.calls == [500, 500, 200]


def test_an_action_the_region_no_longer_has_ends_the_wait(clock):
    """An action left out of the listing (its node deleted) is a 404 naming it, not waited for for ever."""
    api = Scripted(action(11, status="running"))
    d = Deferred.fromCoroutine(wait_for_actions(
        api, [action(10), action(11)], clock, timeout=60, report=lambda line: None, backoff=exponential(1, 3)))
    clock.advance(1)
    assert (d.result.value.status, d.result.value.error.split(":")[0]) == (404, "no action 10")
    d.addErrback(lambda f: None)
