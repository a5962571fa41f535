"""
The faults a simulated world suffers, each with a probability per step
(one simulated second), and what each one models.

Every fault that lasts ends by itself; :meth:`Faults.heal` ends them all
at once when the chaos stops, so that convergence can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any, Callable, Protocol

from pserv.power.errors import PowerAuthError, PowerTransientError
from pserv.testing.power import FakeBMC


@dataclass(frozen=True)
class Fault:
    """A kind of fault: its name, what it models, its default probability."""

    name: str
    models: str
    probability: float


FAULTS = {
    fault.name: fault
    for fault in (
        Fault("cluster-crash", "a cluster process killed (SIGKILL, power loss, OOM); it restarts knowing "
                               "nothing after 1 to 60 s", 0.01),
        Fault("region-crash", "a region process killed; it restarts on the same database after 1 to 60 s, "
                              "having lost uncommitted transactions and unsent answers, and another region "
                              "leads meanwhile", 0.005),
        Fault("connection-cut", "a cluster's RPC connection reset: data in flight lost, both ends told", 0.02),
        Fault("answer-lost", "a cluster's RPC connection reset just after the region recorded a batch of the "
                             "cluster's reports, before the answer reached it: the cluster sends the batch "
                             "again, which must record nothing twice", 0.02),
        Fault("connection-stall", "a partition without reset: a cluster's connection delivers nothing "
                                  "for 1 to 45 s, then everything late", 0.01),
        Fault("cluster-partition", "a cluster cut off from every region, still reaching its BMCs, for 5 to "
                                   "60 s (often past its lease): nothing crosses either way, and its new "
                                   "connections time out", 0.01),
        Fault("bmc-hang", "a BMC that stops answering for 5 to 90 s; calls made meanwhile never answer", 0.02),
        Fault("bmc-late", "a BMC answering every call 2 to 40 s late, for 10 to 90 s", 0.02),
        Fault("bmc-transient", "a BMC failing its next 1 to 3 calls with a transient error", 0.03),
        Fault("bmc-auth", "a BMC refusing the credentials for 10 to 120 s (a password changed and "
                          "changed back)", 0.01),
        Fault("power-button", "someone pressing a node's power button", 0.01),
    )
}


def parse_faults(text: str) -> dict[str, float]:
    """
    ``all``, ``none``, or ``NAME[=P],...``: the faults to inject and their
    probabilities per step.

    :raises ValueError: with a one-line message naming the bad part.
    """
    if text == "all":
        return {name: fault.probability for name, fault in FAULTS.items()}
    if text == "none":
        return {}
    chosen: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if name not in FAULTS:
            raise ValueError(f"--faults: no fault {name!r}; choose from {', '.join(FAULTS)}")
        try:
            probability = float(value) if sep else FAULTS[name].probability
        except ValueError:
            raise ValueError(f"--faults: {part}: the probability must be a number") from None
        if not 0 <= probability <= 1:
            raise ValueError(f"--faults: {part}: the probability must be from 0 to 1")
        chosen[name] = probability
    return chosen


class FaultTargets(Protocol):
    """What faults act on: the world."""

    clock: Any
    rng: Random

    def log(self, text: str) -> None: ...

    def crash_cluster(self) -> Callable[[], None] | None: ...

    def crash_region(self) -> Callable[[], None] | None: ...

    def cluster_connection(self) -> Any: ...

    def partition_cluster(self, seconds: float) -> Callable[[], None] | None: ...

    def lose_next_answer(self) -> None: ...

    def some_bmc(self) -> tuple[str, FakeBMC] | None: ...

    def press_button(self, address: str) -> None: ...


class Faults:
    """
    Injects faults into a world, step by step.

    :param chosen: probability per step, by fault name.
    """

    def __init__(self, world: FaultTargets, chosen: dict[str, float]) -> None:
        self.world = world
        self.chosen = chosen
        self.counts = {name: 0 for name in chosen}
        self._healers: dict[int, Callable[[], None]] = {}
        self._next = 0

    def step(self) -> None:
        """Draw, for each fault in turn, whether it strikes now."""
        for name, probability in self.chosen.items():
            if self.world.rng.random() < probability and getattr(self, "_" + name.replace("-", "_"))():
                self.counts[name] += 1

    def heal(self) -> None:
        """End every lasting fault now: restart what is down, fix every BMC."""
        healers, self._healers = self._healers, {}
        for key in sorted(healers):
            healers[key]()

    def _lasting(self, seconds: float, healer: Callable[[], None]) -> None:
        key = self._next
        self._next += 1
        self._healers[key] = healer

        def end() -> None:
            if self._healers.pop(key, None) is not None:
                healer()

        self.world.clock.callLater(seconds, end)

    def _cluster_crash(self) -> bool:
        restart = self.world.crash_cluster()
        if restart is not None:
            self._lasting(self.world.rng.uniform(1, 60), restart)
        return restart is not None

    def _region_crash(self) -> bool:
        restart = self.world.crash_region()
        if restart is not None:
            self._lasting(self.world.rng.uniform(1, 60), restart)
        return restart is not None

    def _connection_cut(self) -> bool:
        connection = self.world.cluster_connection()
        if connection is not None:
            self.world.log(f"fault: cut {connection.describe()}")
            connection.cut(ConnectionResetError("connection reset by the network"))
        return connection is not None

    def _answer_lost(self) -> bool:
        self.world.lose_next_answer()
        return True

    def _connection_stall(self) -> bool:
        connection = self.world.cluster_connection()
        if connection is not None:
            seconds = self.world.rng.uniform(1, 45)
            self.world.log(f"fault: stall {connection.describe()} for {seconds:.1f}s")
            connection.stall(seconds)
        return connection is not None

    def _cluster_partition(self) -> bool:
        seconds = self.world.rng.uniform(5, 60)
        heal = self.world.partition_cluster(seconds)
        if heal is not None:
            self._lasting(seconds, heal)
        return heal is not None

    def _bmc_hang(self) -> bool:
        return self._on_bmc("hang", 5, 90, lambda bmc: bmc.hang(), lambda bmc: bmc.unhang())

    def _bmc_late(self) -> bool:
        late = self.world.rng.uniform(2, 40)

        def slow(bmc: FakeBMC) -> None:
            bmc.latency += late

        def fast(bmc: FakeBMC) -> None:
            bmc.latency -= late

        return self._on_bmc(f"answer {late:.1f}s late", 10, 90, slow, fast)

    def _bmc_transient(self) -> bool:
        found = self.world.some_bmc()
        if found is None:
            return False
        address, bmc = found
        times = self.world.rng.randint(1, 3)
        self.world.log(f"fault: BMC {address} fails its next {times} call(s)")
        for operation in ("power_on", "power_off", "soft_off", "query"):
            bmc.fail_next(operation, PowerTransientError(f"{address}: no route to host"), times)
        return True

    def _bmc_auth(self) -> bool:
        def refuse(bmc: FakeBMC) -> None:
            for operation in ("power_on", "power_off", "soft_off", "query"):
                bmc.fail_next(operation, PowerAuthError(f"{bmc.description}: authentication failed"), 10**6)

        return self._on_bmc("refuse credentials", 10, 120, refuse, lambda bmc: bmc.clear_failures())

    def _power_button(self) -> bool:
        found = self.world.some_bmc()
        if found is not None:
            self.world.log(f"fault: power button pressed on {found[0]}")
            self.world.press_button(found[0])
        return found is not None

    def _on_bmc(self, what: str, low: float, high: float, start: Callable[[FakeBMC], None],
                end: Callable[[FakeBMC], None]) -> bool:
        found = self.world.some_bmc()
        if found is None:
            return False
        address, bmc = found
        seconds = self.world.rng.uniform(low, high)
        self.world.log(f"fault: BMC {address} {what} for {seconds:.1f}s")
        start(bmc)

        def healed() -> None:
            self.world.log(f"healed: BMC {address} {what}")
            end(bmc)

        self._lasting(seconds, healed)
        return True
