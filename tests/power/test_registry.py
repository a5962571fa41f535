"""
Tests for pserv.power.registry, on a Clock against in-memory BMCs.
"""

import pytest

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.errors import PowerAuthError
from pserv.power.outcome import OutcomeStatus
from pserv.power.registry import PowerActionRegistry
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle
from tests.power.running import results, sent

ON, OFF = PowerState.ON, PowerState.OFF
DONE, SUPERSEDED = OutcomeStatus.DONE, OutcomeStatus.SUPERSEDED


def test_duplicates_coalesce(clock, registry):
    """Three identical requests share one action, one command and one outcome."""
    bmc = FakeBMC(clock, power=OFF, latency=0.5)
    fired = results([registry.request("n", "on", bmc) for _ in range(3)])
    advance_until_idle(clock)
    assert sent(bmc) == ["power_on"]
    assert len({o.action_id for o in fired}) == 1 and fired[0].state is ON


def test_concurrent_queries_share_one_read(clock, registry):
    """Queries made while one is reading share that read."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    fired = results([registry.request("n", "query", bmc) for _ in range(5)])
    advance_until_idle(clock)
    assert bmc.reads == 1 and [o.state for o in fired] == [ON] * 5


def test_conflict_supersedes_before_send(clock, registry):
    """off arriving while on is still reading stops the on before it sends anything."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    on, off = results([registry.request("n", "on", bmc)]), results([registry.request("n", "off", bmc)])
    advance_until_idle(clock)
    assert sent(bmc) == []
    assert (on[0].status, on[0].superseded_by) == (SUPERSEDED, off[0].action_id)
    assert (off[0].status, off[0].state) == (DONE, OFF)


def test_newest_intent_runs(clock, registry):
    """A burst of flip-flopping requests runs only the newest intent after the one in flight."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    kinds = ["off", "on", "off", "cycle", "on", "off"]
    fired = results([registry.request("n", k, bmc) for k in kinds])
    clock.advance(1.5)
    advance_until_idle(clock)
    statuses = [o.status for o in fired]
    assert statuses[-1] is DONE and bmc.power is OFF
    assert sent(bmc) == ["power_off"]
    assert statuses.count(DONE) == 1


def test_supersede_waits_for_unsettled_command(clock, registry):
    """An on superseding an off whose command is in flight runs only after the off is verified."""
    bmc = FakeBMC(clock, power=ON, latency=1.0, settle=5.0)
    off = results([registry.request("n", "off", bmc)])
    clock.advance(1.5)
    on = results([registry.request("n", "on", bmc)])
    advance_until_idle(clock)
    assert sent(bmc) == ["power_off", "power_on"]
    assert [s for _, s in bmc.changes] == [OFF, ON]
    assert off[0].state is OFF and on[0].state is ON


def test_stale_generation_is_refused(clock, registry):
    """A power request older than the node's generation is answered superseded without running."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    registry.request("n", "on", bmc, generation=5)
    stale = results([registry.request("n", "off", bmc, generation=3)])
    assert stale[0].status is SUPERSEDED and "stale" in stale[0].error
    assert registry.generation("n") == 5
    advance_until_idle(clock)
    assert bmc.power is ON


def test_generation_counts_up_and_queries_do_not_bump(clock, registry):
    """Each power request counts the generation up; a query does not."""
    bmc = FakeBMC(clock, power=OFF)
    registry.request("n", "on", bmc)
    registry.request("n", "query", bmc)
    registry.request("n", "off", bmc)
    assert registry.generation("n") == 2


def test_coalescing_raises_generation(clock, registry):
    """A newer duplicate raises the shared action's generation, so its outcome is current."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    fired = results([registry.request("n", "on", bmc, generation=1), registry.request("n", "on", bmc, generation=2)])
    advance_until_idle(clock)
    assert [o.generation for o in fired] == [2, 2]


def test_redelivery_joins_action(clock, registry):
    """A request whose action id is already in play joins that action."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    requests = [registry.request("n", "on", bmc, action_id=42), registry.request("n", "off", bmc, action_id=43)]
    requests.append(registry.request("n", "off", bmc, action_id=43))
    fired = results(requests)
    advance_until_idle(clock)
    assert [o.action_id for o in fired] == [42, 43, 43]
    assert fired[1] == fired[2]


def test_cancel_waiting(clock, registry):
    """Cancelling a waiting action ends it as cancelled at once; the one in flight goes on."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    off = results([registry.request("n", "off", bmc)])
    clock.advance(1.5)
    fired = results([registry.request("n", "on", bmc)])
    assert registry.cancel("n", registry.in_play("n")[1].id)
    assert fired[0].status is OutcomeStatus.CANCELLED
    advance_until_idle(clock)
    assert registry.in_play("n") == (None, None)
    assert sent(bmc) == ["power_off"] and off[0].status is DONE


def test_cancel_in_flight(clock, registry):
    """Cancelling the action in flight stops it at its safe point as cancelled."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    fired = results([registry.request("n", "on", bmc)])
    assert registry.cancel("n", registry.in_play("n")[0].id)
    advance_until_idle(clock)
    assert fired[0].status is OutcomeStatus.CANCELLED and sent(bmc) == []


def test_cancel_unknown(registry):
    """Cancelling an action that is not in play says so."""
    assert not registry.cancel("n", 7)


def test_query_riders_follow_the_superseding_action(clock, registry):
    """A query riding a superseded action gets the state of the action that replaced it."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    registry.request("n", "on", bmc)
    query = results([registry.request("n", "query", bmc)])
    off = results([registry.request("n", "off", bmc)])
    advance_until_idle(clock)
    assert query[0] == off[0] and query[0].state is OFF


def test_failure_is_reported_with_fatality(clock, registry):
    """A fatal driver error reaches every caller as failed and fatal."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.fail_next("query", PowerAuthError("fake BMC: authentication failed"))
    fired = results([registry.request("n", "on", bmc)])
    assert (fired[0].status, fired[0].fatal) == (OutcomeStatus.FAILED, True)
    assert fired[0].error == "fake BMC: authentication failed"


def test_callbacks_may_request_again(clock, registry):
    """An outcome's callback can make a new request for the same node."""
    bmc = FakeBMC(clock, power=OFF)
    second = []
    registry.request("n", "on", bmc).addCallback(
        lambda _: registry.request("n", "off", bmc).addCallback(second.append)
    )
    advance_until_idle(clock)
    assert second[0].state is OFF and sent(bmc) == ["power_on", "power_off"]


def test_nodes_are_independent(clock, registry):
    """Actions on different nodes run side by side."""
    bmcs = [FakeBMC(clock, power=OFF, latency=1.0) for _ in range(3)]
    for i, bmc in enumerate(bmcs):
        registry.request(f"n{i}", "on", bmc)
    assert sorted(registry.busy_nodes()) == ["n0", "n1", "n2"]
    clock.pump([1.0, 1.0])
    assert all(sent(b) == ["power_on"] for b in bmcs)


def test_idle_nodes_are_forgotten_but_generation_kept(clock, registry):
    """A node with nothing in play leaves the busy set and keeps its generation."""
    bmc = FakeBMC(clock, power=OFF)
    registry.request("n", "on", bmc)
    advance_until_idle(clock)
    assert registry.busy_nodes() == [] and registry.generation("n") == 1


def test_listener_sees_the_story(clock, registry):
    """Listeners see queued, started, progress, cancelling and ended, in order."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    events = []
    registry.add_listener(lambda e: events.append((e.name, e.action.kind.value, e.detail)))
    registry.request("n", "cycle", bmc)
    clock.pump([0.5] * 8)
    registry.request("n", "off", bmc)
    advance_until_idle(clock)
    assert events == [
        ("queued", "cycle", None),
        ("started", "cycle", None),
        ("progress", "cycle", "off_verified"),
        ("queued", "off", None),
        ("cancelling", "cycle", None),
        ("ended", "cycle", None),
        ("started", "off", None),
        ("ended", "off", None),
    ]


def test_soft_off_escalation_passes_through(clock, registry):
    """escalate_after reaches the soft_off action."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=None)
    fired = results([registry.request("n", ActionKind.SOFT_OFF, bmc, escalate_after=15)])
    advance_until_idle(clock)
    assert sent(bmc) == ["soft_off", "power_off"] and fired[0].state is OFF


def test_on_over_a_pending_shutdown_waits_for_it(clock, registry):
    """An on superseding a soft_off whose shutdown is still coming waits for it (the soft_off ends done, off), then powers on."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, settle=1.0, shutdown_time=3.0)
    fired = results([registry.request("n", ActionKind.SOFT_OFF, bmc, escalate_after=2.0)])
    advance_until_idle(clock, 0.3)
    on = results([registry.request("n", ActionKind.ON, bmc)])
    advance_until_idle(clock)
    assert sent(bmc) == ["soft_off", "power_on"]
    assert on[0].status is DONE and bmc.power is ON and (fired[0].status, fired[0].state) == (DONE, OFF)


def test_unknown_kind_is_refused(clock, registry):
    """A request for a kind that does not exist raises ValueError before anything happens."""
    with pytest.raises(ValueError):
        registry.request("n", "reboot", FakeBMC(clock))
    assert registry.busy_nodes() == []


def test_checkpoint_is_asked_at_each_milestone(clock):
    """The registry's checkpoint is called with the node, action and milestone, and waited for."""
    from twisted.internet.defer import Deferred

    asked = []
    held = Deferred()

    def checkpoint(node, action, milestone):
        asked.append((node, action.id, milestone))
        return held

    registry = PowerActionRegistry(clock, checkpoint=checkpoint)
    bmc = FakeBMC(clock, power=ON)
    registry.request("n", "cycle", bmc, action_id=7)
    advance_until_idle(clock)
    assert asked == [("n", 7, "off_verified")] and sent(bmc) == ["power_off"]
    held.callback(None)
    advance_until_idle(clock)
    assert sent(bmc) == ["power_off", "power_on"]


def test_joins_are_announced_with_the_request_id(clock, registry):
    """A request that joins an action is announced with the id it brought."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    joined = []
    registry.add_listener(lambda e: joined.append((e.action.id, e.detail)) if e.name == "joined" else None)
    registry.request("n", "cycle", bmc, action_id=10)
    registry.request("n", "on", bmc, action_id=11)
    registry.request("n", "query", bmc)
    assert joined == [(10, "11"), (10, None)]


def test_a_finished_action_is_freed_without_the_garbage_collector(clock, registry):
    """Once its outcome is delivered, an action is freed by reference counting alone: no cycle holds it."""
    import gc
    import weakref

    refs = []
    registry.add_listener(lambda event: refs.append(weakref.ref(event.action)) if event.name == "queued" else None)
    gc.disable()
    try:
        results([registry.request("n", ActionKind.ON, FakeBMC(clock, power=OFF))])
        advance_until_idle(clock)
        assert len(refs) == 1 and refs[0]() is None
    finally:
        gc.enable()



def shut_down_then_on(shutdown_time):
    """soft_off sent, then off, then on while the off reads: the BMC and the on's outcome."""
    from pserv.testing.power import HeapClock

    clock = HeapClock()
    registry = PowerActionRegistry(clock)
    bmc = FakeBMC(clock, "n1", power=PowerState.ON, latency=0.25, shutdown_time=shutdown_time)
    registry.request("n1", "soft_off", bmc)
    clock.advance(1.0)
    registry.request("n1", "off", bmc)
    clock.advance(0.3)
    outcomes = []
    registry.request("n1", "on", bmc).addCallback(outcomes.append)
    advance_until_idle(clock)
    return bmc, outcomes[0]


def test_an_on_after_an_escalated_soft_off_waits_for_the_shutdown():
    """soft_off sent, off, then on before the off sent anything: the on waits for the shutdown and switches the node on."""
    bmc, outcome = shut_down_then_on(shutdown_time=5.0)
    assert [command for _, command in bmc.commands] == ["soft_off", "power_on"]
    assert (bmc.power, outcome.status, outcome.state) == (PowerState.ON, OutcomeStatus.DONE, PowerState.ON)


def test_an_on_after_a_shutdown_the_os_ignores_sends_nothing():
    """The same, with an OS that ignores the shutdown: the on waits out soft_off_timeout, sends nothing, ends done."""
    bmc, outcome = shut_down_then_on(shutdown_time=None)
    assert [command for _, command in bmc.commands] == ["soft_off"]
    assert (bmc.power, outcome.status, outcome.state) == (PowerState.ON, OutcomeStatus.DONE, PowerState.ON)


PXE, DISK = BootSetting(BootDevice.PXE), BootSetting(BootDevice.DISK)


def test_identical_boot_requests_coalesce(clock, registry):
    """Two on requests with the same boot device share one action, one set and one power_on."""
    bmc = FakeBMC(clock, power=OFF, latency=0.5)
    fired = results([registry.request("n", "on", bmc, boot=PXE) for _ in range(2)])
    advance_until_idle(clock)
    assert sent(bmc) == ["power_on"] and len(bmc.boot_sets) == 1
    assert len({o.action_id for o in fired}) == 1


def test_another_boot_device_supersedes(clock, registry):
    """An on naming another boot device supersedes the on in flight: the newer device is set, then power_on."""
    bmc = FakeBMC(clock, power=OFF, latency=0.5)
    first = results([registry.request("n", "on", bmc, boot=PXE)])
    second = results([registry.request("n", "on", bmc, boot=DISK)])
    advance_until_idle(clock)
    assert first[0].status is SUPERSEDED and first[0].superseded_by == second[0].action_id
    assert (second[0].status, sent(bmc), bmc.boot_sets[-1][1]) == (DONE, ["power_on"], DISK)


def test_no_boot_device_is_another_intent_than_one(clock, registry):
    """A plain on does not join an on with a boot device in flight: it supersedes it."""
    bmc = FakeBMC(clock, power=OFF, latency=0.5)
    first = results([registry.request("n", "on", bmc, boot=PXE)])
    second = results([registry.request("n", "on", bmc)])
    advance_until_idle(clock)
    assert (first[0].status, second[0].status) == (SUPERSEDED, DONE)


def test_an_on_joins_a_cycle_only_with_its_boot_device(clock, registry):
    """An on with the cycle's boot device joins it; the decision table's join holds for equal intents."""
    bmc = FakeBMC(clock, power=ON, latency=0.5)
    fired = results([registry.request("n", "cycle", bmc, boot=PXE), registry.request("n", "on", bmc, boot=PXE)])
    advance_until_idle(clock)
    assert {o.action_id for o in fired} == {fired[0].action_id} and sent(bmc) == ["power_off", "power_on"]


def test_another_boot_device_replaces_the_waiting_action(clock, registry):
    """Behind a cancelling action, an on with another boot device replaces the waiting on."""
    bmc = FakeBMC(clock, power=ON, latency=1.0, settle=3.0)
    off = results([registry.request("n", "off", bmc)])
    clock.advance(1.5)  # the off's command is in flight: it stops only once verified
    waiting = results([registry.request("n", "on", bmc, boot=PXE)])
    newest = results([registry.request("n", "on", bmc, boot=DISK)])
    assert registry.row("n") == ("cancelling", "on")
    advance_until_idle(clock)
    assert (waiting[0].status, newest[0].status) == (SUPERSEDED, DONE)
    assert [s for _, s in bmc.boot_sets] == [DISK] and off[0].status is DONE  # its command was verified


def test_a_query_rides_an_action_with_a_boot_device(clock, registry):
    """A query, which carries no boot device, still rides a power action in flight."""
    bmc = FakeBMC(clock, power=OFF, latency=0.5)
    fired = results([registry.request("n", "on", bmc, boot=PXE), registry.request("n", "query", bmc)])
    advance_until_idle(clock)
    assert fired[0].action_id == fired[1].action_id and fired[1].state is ON


def test_a_boot_device_on_other_kinds_is_dropped(clock, registry):
    """Only on and cycle carry a boot device: an off given one sets nothing."""
    bmc = FakeBMC(clock, power=ON)
    results([registry.request("n", "off", bmc, boot=PXE)])
    advance_until_idle(clock)
    assert bmc.boot_sets == [] and sent(bmc) == ["power_off"]


def test_an_on_taking_over_a_cancelled_cycle_keeps_its_boot_device(clock, registry):
    """An on that joined a cycle with the same boot device, the cycle cancelled before it sent anything, runs as its own action and sets that boot device."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    cycle = results([registry.request("n", "cycle", bmc, action_id=10, boot=PXE)])
    on = results([registry.request("n", "on", bmc, action_id=11, boot=PXE)])
    registry.cancel("n", 10)
    advance_until_idle(clock)
    assert (cycle[0].status, on[0].status, on[0].action_id) == (OutcomeStatus.CANCELLED, DONE, 11)
    assert [s for _, s in bmc.boot_sets] == [PXE] and sent(bmc) == ["power_on"]


def test_a_query_that_fails_at_once_after_its_action_ends_leaves_the_next_request_its_node(clock, registry):
    """
    A cancelled cycle's riding query reads for itself and fails before
    its start returns (its control refuses at once, as a fenced member's
    does), while the cycle's answer asks for the node again: the new
    action keeps its slot and ends (soak seed 10090: the new action's slot
    was dropped under it, it could not end, and its action stayed running).
    """
    from pserv.power.errors import PowerFatalError

    bmc = FakeBMC(clock, power=ON, latency=1.0)
    refusing = FakeBMC(clock, power=ON, latency=0)
    refusing.fail_next("query", PowerFatalError("refused at once"), times=10)
    again = []
    cycle = registry.request("n", "cycle", bmc)
    query = registry.request("n", "query", refusing)
    cycle.addCallback(lambda _: again.append(registry.request("n", "on", bmc)))
    clock.advance(0.1)
    registry.cancel("n", registry.in_play("n")[0].id)
    advance_until_idle(clock)
    [on] = results(again)
    assert results([query])[0].status is OutcomeStatus.FAILED
    assert on.status is DONE and registry.in_play("n") == (None, None)


class Budgeted:
    """A BMC whose power-ons wait for a start the test grants (a power budget)."""

    def __init__(self, bmc):
        self.bmc = bmc
        self.permits = []
        for name in ("verify_policy", "description", "power_on", "power_off", "soft_off", "query"):
            setattr(self, name, getattr(bmc, name))

    def permit(self, action):
        from twisted.internet.defer import Deferred

        waiting = Deferred()
        self.permits.append(waiting)
        return waiting


def test_a_power_on_waits_for_its_start(clock, registry):
    """An on whose control offers a permit sends power_on only once the permit fires."""
    bmc = Budgeted(FakeBMC(clock, power=OFF, latency=0.5))
    fired = results([registry.request("n", "on", bmc)])
    advance_until_idle(clock)
    assert sent(bmc.bmc) == [] and len(bmc.permits) == 1
    bmc.permits[0].callback(None)
    advance_until_idle(clock)
    assert sent(bmc.bmc) == ["power_on"] and fired[0].status is DONE


def test_an_off_while_waiting_for_a_start_sends_no_power_on(clock, registry):
    """An off superseding an on that waits for its start withdraws the wait: no power_on is ever sent."""
    bmc = Budgeted(FakeBMC(clock, power=OFF, latency=0.5))
    on = results([registry.request("n", "on", bmc)])
    advance_until_idle(clock)
    off = results([registry.request("n", "off", bmc)])
    advance_until_idle(clock)
    assert sent(bmc.bmc) == [] and bmc.permits[0].called  # cancelled: withdrawn from the line
    assert on[0].status is SUPERSEDED and (off[0].status, off[0].state) == (DONE, OFF)


def test_a_duplicate_on_while_waiting_for_a_start_joins_it(clock, registry):
    """A second on for a node waiting for its start coalesces: one wait, one power_on, one outcome for both."""
    bmc = Budgeted(FakeBMC(clock, power=OFF, latency=0.5))
    first = results([registry.request("n", "on", bmc)])
    advance_until_idle(clock)
    second = results([registry.request("n", "on", bmc)])
    bmc.permits[0].callback(None)
    advance_until_idle(clock)
    assert sent(bmc.bmc) == ["power_on"] and len(bmc.permits) == 1
    assert first[0].action_id == second[0].action_id and second[0].status is DONE
