"""
Tests for pserv.power.drivers.redfish.retry: retrying a busy BMC.

The loop itself runs on an injected ``Clock``; the driver's use of it runs
against a scripted stub BMC, since sushy-tools is never busy.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.task import Clock
from twisted.web.http_headers import Headers

from pserv.power.drivers.redfish.driver import RedfishDriver
from pserv.power.drivers.redfish.http import Reply
from pserv.power.drivers.redfish.retry import retry_delay, retryable, with_retries
from pserv.power.errors import PowerTransientError
from pserv.power.states import PowerState
from pserv.testing.emulators.redfish_stub import (  # noqa: F401
    Answer,
    redfish_tree,
    reset_path,
    stub_bmc,
    system_document,
)
from pserv.util.backoff import exponential

BACKOFF = exponential(0.5, 2.0)
RETRIES = 3


def reply(code: int, **headers: str) -> Reply:
    return Reply(code, "", Headers({k: [v] for k, v in headers.items()}), b"")


@pytest.mark.parametrize(
    "method, code, expected",
    [
        ("POST", 409, True), ("POST", 429, True), ("POST", 503, True),
        ("POST", 500, False), ("POST", 502, False), ("POST", 504, False),
        ("GET", 500, True), ("GET", 502, True), ("GET", 504, True), ("GET", 409, True),
        ("GET", 501, False), ("GET", 404, False), ("GET", 401, False), ("POST", 400, False),
        ("GET", 200, False),
    ],
)
def test_which_replies_are_retried(method: str, code: int, expected: bool) -> None:
    """A POST is retried only when the BMC said it did not act; a GET on any busy 5xx."""
    assert retryable(method, code) is expected


def test_retry_delay_follows_the_backoff_and_caps_retry_after() -> None:
    """Delays run in order; Retry-After replaces one, capped at the longest delay."""
    assert [retry_delay(BACKOFF, i, RETRIES) for i in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert retry_delay(BACKOFF, 0, RETRIES, "1") == 1.0
    assert retry_delay(BACKOFF, 0, RETRIES, "3600") == 2.0
    assert retry_delay(BACKOFF, 0, RETRIES, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.5


def test_retries_wait_on_the_injected_clock_and_are_bounded() -> None:
    """Busy replies are re-sent after 0.5, 1 and 2 s of the clock, then the last is returned."""
    clock, sent = Clock(), []

    def send() -> Deferred[Reply]:
        sent.append(clock.seconds())
        return succeed(reply(503))

    result = Deferred.fromCoroutine(with_retries(clock, send, "POST", BACKOFF, RETRIES))
    clock.pump([0.5, 1.0, 2.0, 10.0])
    assert sent == [0.0, 0.5, 1.5, 3.5]
    assert result.result.code == 503


def test_success_ends_the_retries() -> None:
    """A reply that is not busy is returned at once, with no further sends."""
    clock = Clock()
    replies = iter([reply(409), reply(204)])
    result = Deferred.fromCoroutine(with_retries(clock, lambda: succeed(next(replies)), "POST", BACKOFF, RETRIES))
    clock.advance(0.5)
    assert result.result.code == 204
    assert not clock.getDelayedCalls()


def test_cancelling_during_a_wait_sends_nothing_more() -> None:
    """Cancelling while waiting to retry stops the loop and leaves no timer."""
    clock, sent = Clock(), []
    result = Deferred.fromCoroutine(
        with_retries(clock, lambda: sent.append(1) or succeed(reply(503)), "GET", BACKOFF, RETRIES))
    result.cancel()
    clock.advance(10)
    assert sent == [1]
    assert not clock.getDelayedCalls()
    assert result.result.check(CancelledError)
    result.addErrback(lambda _: None)


@pytest_twisted.async_yield_fixture
async def fast_driver():
    driver = RedfishDriver(request_timeout=5.0, retry_backoff=exponential(0.01, 0.04), retries=3)
    yield driver
    await driver.close()


@pytest_twisted.ensureDeferred
async def test_a_busy_read_is_retried_then_succeeds(stub_bmc, fast_driver) -> None:
    """GET answered 503, 500 then 200 reads the state after two retries."""
    redfish_tree(stub_bmc.stub, systems={"1": "On"})
    stub_bmc.stub.on("GET", "/redfish/v1/Systems/1", Answer(503), Answer(500),
                     Answer(200, system_document("1", "On")))
    assert await fast_driver.query({"address": stub_bmc.address}) is PowerState.ON
    assert stub_bmc.stub.count("GET", "/redfish/v1/Systems/1") == 3


@pytest_twisted.ensureDeferred
async def test_a_conflicting_reset_is_retried_then_accepted(stub_bmc, fast_driver) -> None:
    """A reset answered 409 Conflict is sent again and accepted on the next try."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("POST", reset_path("1"), Answer(409), Answer(503), Answer(202))
    await fast_driver.power_off({"address": stub_bmc.address})
    assert stub_bmc.stub.count("POST", reset_path("1")) == 3


@pytest_twisted.ensureDeferred
async def test_a_reset_answered_500_is_not_sent_again(stub_bmc, fast_driver) -> None:
    """A 500 to a reset may have acted, so it is sent once and fails as transient."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("POST", reset_path("1"), Answer(500), Answer(204))
    with pytest.raises(PowerTransientError, match="HTTP 500"):
        await fast_driver.power_on({"address": stub_bmc.address})
    assert stub_bmc.stub.count("POST", reset_path("1")) == 1


@pytest_twisted.ensureDeferred
async def test_a_bmc_busy_for_good_fails_transient_after_bounded_tries(stub_bmc, fast_driver) -> None:
    """A BMC that stays busy gets one try plus one per delay, then a transient error."""
    redfish_tree(stub_bmc.stub)
    stub_bmc.stub.on("POST", reset_path("1"), Answer(503))
    with pytest.raises(PowerTransientError, match="HTTP 503"):
        await fast_driver.soft_off({"address": stub_bmc.address})
    assert stub_bmc.stub.count("POST", reset_path("1")) == 4
