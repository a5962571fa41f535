"""
Unit tests of the per-PDU queue: one request at a time per PDU, in order,
independent PDUs, and cancellation that neither jams nor reorders the queue.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred

from pserv.power.drivers.snmp.queue import PDUQueues

PDU_A = ("10.0.0.1", 161)
PDU_B = ("10.0.0.2", 161)


class Work:
    """Calls that record when they start and finish only when told to."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.pending: dict[str, Deferred[str]] = {}

    def __call__(self, name: str):
        def start() -> Deferred[str]:
            self.started.append(name)
            self.pending[name] = Deferred()
            return self.pending[name]

        return start

    def finish(self, name: str) -> None:
        self.pending.pop(name).callback(name)


def results(d: Deferred) -> list:
    seen: list = []
    d.addBoth(seen.append)
    return seen


def test_one_call_per_pdu_at_a_time_in_order():
    """A PDU's calls start one after another, each once the previous finished."""
    queues, work = PDUQueues(), Work()
    done = [results(queues.run(PDU_A, work(n))) for n in ("1", "2", "3")]
    assert work.started == ["1"]
    work.finish("1")
    assert work.started == ["1", "2"]
    work.finish("2")
    work.finish("3")
    assert work.started == ["1", "2", "3"]
    assert [r for (r,) in done] == ["1", "2", "3"]


def test_different_pdus_do_not_wait_for_each_other():
    """A call to another PDU starts at once while the first PDU is busy."""
    queues, work = PDUQueues(), Work()
    queues.run(PDU_A, work("a"))
    queues.run(PDU_B, work("b"))
    assert work.started == ["a", "b"]


def test_a_failure_releases_the_queue():
    """A call that fails lets the next one run, and its caller sees the failure."""
    queues, work = PDUQueues(), Work()
    first = results(queues.run(PDU_A, work("1")))
    queues.run(PDU_A, work("2"))
    work.pending.pop("1").errback(RuntimeError("boom"))
    assert first[0].check(RuntimeError)
    assert work.started == ["1", "2"]


def test_cancelling_a_waiting_call_drops_it_from_the_queue():
    """A call cancelled while waiting never starts; the ones after it still do."""
    queues, work = PDUQueues(), Work()
    queues.run(PDU_A, work("1"))
    second = queues.run(PDU_A, work("2"))
    waiting = results(second)
    queues.run(PDU_A, work("3"))
    second.cancel()
    assert waiting[0].check(CancelledError)
    work.finish("1")
    assert work.started == ["1", "3"]


def test_cancelling_a_running_call_cancels_its_work_and_frees_the_pdu():
    """Cancelling a running call cancels the work's Deferred and starts the next."""
    queues, work = PDUQueues(), Work()
    running = queues.run(PDU_A, work("1"))
    seen = results(running)
    queues.run(PDU_A, work("2"))
    running.cancel()
    assert seen[0].check(CancelledError)
    assert "1" not in work.pending or work.pending["1"].called
    assert work.started == ["1", "2"]


def test_idle_pdus_are_forgotten():
    """Once a PDU has nothing running or waiting, its lock is dropped."""
    queues, work = PDUQueues(), Work()
    queues.run(PDU_A, work("1"))
    queues.run(PDU_A, work("2"))
    work.finish("1")
    assert queues.busy(PDU_A)
    work.finish("2")
    assert not queues.busy(PDU_A)
