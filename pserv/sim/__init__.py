"""
Deterministic simulation of a whole pserv, with faults.

One process, one clock, one seeded random generator: several real regions
(their API, RPC, store, sweep and the leader's care of the cluster groups,
on one SQLite database in memory), several real clusters (members of one
cluster group, with leases), and in-memory BMCs, connected by an in-memory
network that the harness delays, cuts and partitions, while processes
crash and restart and BMCs misbehave.  After
every simulated second the promises of :mod:`pserv.sim.invariants` are
checked.  ``python -m pserv.sim --help`` runs it; ``docs/simulation.md``
says what each fault models and what the simulation found.
"""
