"""
Deterministic simulation of a whole pserv, with faults.

One process, one clock, one seeded random generator: the real region (its
API, RPC, store and sweep on SQLite in memory), several real clusters, and
in-memory BMCs, connected by an in-memory network that the harness delays
and cuts, while processes crash and restart and BMCs misbehave.  After
every simulated second the promises of :mod:`pserv.sim.invariants` are
checked.  ``python -m pserv.sim --help`` runs it; ``docs/simulation.md``
says what each fault models and what the simulation found.
"""
