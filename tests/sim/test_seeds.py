"""
The fixed set of seeds CI runs through pserv.sim: every invariant must hold
in each world.  A failure names the command that replays the seed.
"""

import pytest

from pserv.sim.faults import parse_faults
from pserv.sim.world import Shape, World

SEEDS = range(200)
SHAPE = Shape(steps=60)
FAULTS = parse_faults("all")


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_keeps_every_promise(seed):
    """One simulated world, with every fault, breaks no invariant and converges."""
    result = World(seed, SHAPE, FAULTS).run()
    replay = f"python -m pserv.sim --seed {seed} --steps {SHAPE.steps} --faults all --trace"
    assert result.ok, f"replay with: {replay}\n" + "\n".join(str(v) for v in result.violations)
