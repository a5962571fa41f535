"""Tests for pserv.sim.convergence."""

from datetime import datetime

from pserv.power.states import PowerState
from pserv.testing.power import FakeFleet, HeapClock
from pserv.region import schema
from pserv.sim.convergence import unconverged
from pserv.sim.database import fresh_engine
from pserv.sim.truth import BMCTruth

NOW = datetime(2027, 1, 1)


def node(engine, **values):
    row = dict(
        id=1, name="n", cluster="rack-1", power_type="fake", power_parameters={"address": "b"}, power_secrets={},
        desired_power_state="on", power_state="on", generation=1, lifecycle="ready", created_at=NOW,
        updated_at=NOW, drift_policy="enforce",
    )
    row.update(values)
    with engine.begin() as connection:
        connection.execute(schema.nodes.insert().values(**row))


def truth(power):
    facts = BMCTruth(FakeFleet(HeapClock()))
    facts.add("b", power)
    return facts


def test_a_node_at_its_desired_state_has_converged():
    """Region, BMC and intent agree: nothing to report."""
    engine = fresh_engine()
    node(engine)
    assert unconverged(engine, truth(PowerState.ON)) == []


def test_the_region_not_knowing_the_truth_is_reported():
    """The region showing another state than the BMC's is not converged."""
    engine = fresh_engine()
    node(engine, power_state="off")
    assert "region shows off, BMC is on" in unconverged(engine, truth(PowerState.ON))[0]


def test_enforce_must_reach_the_desired_state_observe_may_show_drift():
    """An enforced node off while desired on has not converged; an observed one showing it has."""
    engine = fresh_engine()
    node(engine, power_state="off")
    assert "enforced desired on" in unconverged(engine, truth(PowerState.OFF))[0]
    engine = fresh_engine()
    node(engine, power_state="off", drift_policy="observe")
    assert unconverged(engine, truth(PowerState.OFF)) == []


def test_a_node_left_moving_has_not_converged():
    """A node its old cluster has not given up is not converged."""
    engine = fresh_engine()
    node(engine, cluster="rack-2", moving_from="rack-1")
    assert "still moving from rack-1" in unconverged(engine, truth(PowerState.ON))[0]


def test_a_locked_node_desired_off_but_on_has_converged_the_lock_holds_the_off_back():
    """An enforced node desired off and seen on has converged if it is locked (enforcement may not switch it off)."""
    engine = fresh_engine()
    node(engine, desired_power_state="off", locked=True, locked_by="a", lock_reason="r")
    assert unconverged(engine, truth(PowerState.ON)) == []
    engine = fresh_engine()
    node(engine, desired_power_state="off")
    assert "enforced desired off" in unconverged(engine, truth(PowerState.ON))[0]
