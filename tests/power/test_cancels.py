"""
Tests for pserv.power.cancels: an operator's cancel ends only the request
it names, and a seeded generation supersedes what is older, on a Clock
against in-memory BMCs.
"""


from pserv.power.outcome import OutcomeStatus
from pserv.power.states import PowerState
from pserv.testing.power import FakeBMC, advance_until_idle
from tests.power.running import results, sent

ON, OFF = PowerState.ON, PowerState.OFF
DONE, SUPERSEDED, CANCELLED = OutcomeStatus.DONE, OutcomeStatus.SUPERSEDED, OutcomeStatus.CANCELLED


def test_cancelling_a_cycle_an_on_joined_leaves_the_on_done(clock, registry):
    """cycle 10 past its power_off, on 11 joined, cancel 10: 10 ends cancelled, 11 done with the node on."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, settle=1.0)
    cycle = results([registry.request("n", "cycle", bmc, action_id=10, generation=1)])
    clock.pump([0.1] * 5)
    on = results([registry.request("n", "on", bmc, action_id=11, generation=2)])
    assert sent(bmc) == ["power_off"]
    assert registry.cancel("n", 10)
    advance_until_idle(clock)
    assert (cycle[0].status, on[0].status, on[0].action_id) == (CANCELLED, DONE, 11)
    assert bmc.power is ON and sent(bmc) == ["power_off", "power_on"]


def test_a_cycle_cancelled_before_sending_does_not_cycle_for_its_on_joiner(clock, registry):
    """cycle 10 still reading, on 11 joined, cancel 10: nothing is sent and the on node stays on."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    cycle = results([registry.request("n", "cycle", bmc, action_id=10, generation=1)])
    on = results([registry.request("n", "on", bmc, action_id=11, generation=2)])
    registry.cancel("n", 10)
    advance_until_idle(clock)
    assert (cycle[0].status, on[0].status, on[0].state) == (CANCELLED, DONE, ON)
    assert sent(bmc) == [] and bmc.changes == []


def test_cancelling_an_off_a_soft_off_joined_lets_the_soft_off_run(clock, registry):
    """off 10 still reading, soft_off 11 joined, cancel 10: the soft_off runs as its own action, gracefully."""
    bmc = FakeBMC(clock, power=ON, latency=1.0, shutdown_time=3.0)
    off = results([registry.request("n", "off", bmc, action_id=10, generation=1)])
    soft = results([registry.request("n", "soft_off", bmc, action_id=11, generation=2)])
    registry.cancel("n", 10)
    advance_until_idle(clock)
    assert (off[0].status, soft[0].status, soft[0].action_id) == (CANCELLED, DONE, 11)
    assert sent(bmc) == ["soft_off"] and bmc.power is OFF


def test_cancelling_a_joiner_ends_only_the_joiner(clock, registry):
    """on 11 joined cycle 10; cancelling 11 answers it cancelled at once and the cycle goes on."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    cycle = results([registry.request("n", "cycle", bmc, action_id=10, generation=1)])
    on = results([registry.request("n", "on", bmc, action_id=11, generation=2)])
    assert registry.cancel("n", 11)
    assert (on[0].status, on[0].generation) == (CANCELLED, 2) and cycle == []
    advance_until_idle(clock)
    assert cycle[0].status is DONE and sent(bmc) == ["power_off", "power_on"]


def test_cancelling_a_duplicate_own_request_lets_the_duplicate_go_on(clock, registry):
    """Two on requests share one action; cancelling the first leaves the second done, the action never stopped."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    first = results([registry.request("n", "on", bmc, action_id=10, generation=1)])
    second = results([registry.request("n", "on", bmc, action_id=11, generation=2)])
    registry.cancel("n", 10)
    assert first[0].status is CANCELLED
    advance_until_idle(clock)
    assert (second[0].status, second[0].state) == (DONE, ON) and sent(bmc) == ["power_on"]


def test_an_operator_cancel_keeps_the_waiting_successors_urgency(clock, registry):
    """soft_off sending, off waiting, cancel the soft_off: the off is sent within a second, not after 300 s."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, shutdown_time=None)
    soft = results([registry.request("n", "soft_off", bmc, action_id=10)])
    clock.pump([0.1] * 3)
    assert sent(bmc) == []
    off = results([registry.request("n", "off", bmc, action_id=11)])
    registry.cancel("n", 10)
    clock.pump([0.1] * 10)
    assert sent(bmc) == ["soft_off", "power_off"]
    advance_until_idle(clock)
    assert (soft[0].status, off[0].status, bmc.power) == (CANCELLED, DONE, OFF)


def test_a_query_behind_a_cancelled_soft_off_runs_promptly(clock, registry):
    """A query waiting behind a cancelled soft_off is answered at the next safe point, not after the graceful period."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, shutdown_time=None)
    soft = results([registry.request("n", "soft_off", bmc)])
    clock.pump([0.1] * 3)
    registry.cancel("n", registry.in_play("n")[0].id)
    query = results([registry.request("n", "query", bmc)])
    clock.pump([0.1] * 20)
    assert (soft[0].status, query[0].status, query[0].state) == (CANCELLED, DONE, ON)


def test_an_operator_cancel_of_a_soft_off_waiting_for_the_os_ends_it_promptly(clock, registry):
    """A soft_off waiting for an OS that never shuts down, cancelled, ends cancelled at once, not failed at 300 s."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, shutdown_time=None)
    soft = results([registry.request("n", "soft_off", bmc, action_id=10)])
    clock.pump([0.5] * 6)
    assert sent(bmc) == ["soft_off"] and soft == []
    registry.cancel("n", 10)
    clock.pump([0.1] * 5)
    assert soft[0].status is CANCELLED and sent(bmc) == ["soft_off"]


def test_a_soft_off_superseded_by_on_ends_superseded(clock, registry):
    """A soft_off whose OS never shuts down, superseded by on, ends superseded (not failed) and the on runs."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, shutdown_time=None)
    soft = results([registry.request("n", "soft_off", bmc, action_id=10)])
    clock.pump([0.5] * 6)
    on = results([registry.request("n", "on", bmc, action_id=11)])
    advance_until_idle(clock)
    assert (soft[0].status, soft[0].superseded_by) == (SUPERSEDED, 11)
    assert (on[0].status, on[0].state) == (DONE, ON) and sent(bmc) == ["soft_off"]


def test_a_query_riding_a_cancelled_action_gets_a_state(clock, registry):
    """A query riding an on that an operator cancels reads for itself: it ends done with a state, never cancelled."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    on = results([registry.request("n", "on", bmc)])
    query = results([registry.request("n", "query", bmc)])
    registry.cancel("n", registry.in_play("n")[0].id)
    advance_until_idle(clock)
    assert on[0].status is CANCELLED and (query[0].status, query[0].state) == (DONE, OFF)
    assert sent(bmc) == []


def test_a_query_riding_a_cancelled_waiting_action_gets_a_state(clock, registry):
    """A query riding a waiting on that an operator cancels ends with a state, never cancelled."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    registry.request("n", "off", bmc)
    clock.advance(1.5)
    on = results([registry.request("n", "on", bmc)])
    query = results([registry.request("n", "query", bmc)])
    registry.cancel("n", registry.in_play("n")[1].id)
    advance_until_idle(clock)
    assert on[0].status is CANCELLED and (query[0].status, query[0].state) == (DONE, OFF)


def test_a_seeded_generation_refuses_older_requests(clock, registry):
    """After seeding generation 7, a request at generation 5 is superseded without running; seeding never lowers."""
    bmc = FakeBMC(clock, power=OFF)
    registry.seed("n", 7)
    registry.seed("n", 3)
    stale = results([registry.request("n", "on", bmc, action_id=5, generation=5)])
    assert (stale[0].status, registry.generation("n")) == (SUPERSEDED, 7)
    advance_until_idle(clock)
    assert sent(bmc) == []


def test_a_seeded_generation_stops_older_actions_in_play(clock, registry):
    """Seeding a newer generation stops the older action in flight before it sends: it ends superseded."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    on = results([registry.request("n", "on", bmc, action_id=5, generation=5)])
    registry.seed("n", 7)
    advance_until_idle(clock)
    assert on[0].status is SUPERSEDED and sent(bmc) == []


def test_a_stale_request_names_the_newest_intent_even_once_it_ended(clock, registry):
    """A stale request is superseded by the action that brought the current generation, even after it ended."""
    bmc = FakeBMC(clock, power=ON)
    registry.seed("n", 4)
    registry.request("n", "on", bmc, action_id=14, generation=4)
    advance_until_idle(clock)
    stale = results([registry.request("n", "off", bmc, action_id=13, generation=3)])
    assert (stale[0].status, stale[0].superseded_by) == (SUPERSEDED, 14)


def test_an_operator_cancel_keeps_a_soft_off_waiting_for_the_shutdown_an_on_must_see(clock, registry):
    """soft_off superseded by on, then cancelled: it ends at once, but still watches the shutdown, so the on
    finds the node off and switches it on."""
    bmc = FakeBMC(clock, power=ON, latency=0.2, shutdown_time=3.0)
    soft = results([registry.request("n", "soft_off", bmc, action_id=10)])
    clock.pump([0.5] * 2)
    on = results([registry.request("n", "on", bmc, action_id=11)])
    registry.cancel("n", 10)
    advance_until_idle(clock)
    assert sent(bmc) == ["soft_off", "power_on"] and bmc.power is ON
    assert (soft[0].status, on[0].status) == (CANCELLED, DONE)
