"""
What operators do to a simulated world, step by step: single power
requests, bursts of conflicting ones on one node, bulk requests, cancels,
nodes added and deleted, and nodes moved to another cluster (often just
after a power request, and often away from a cluster that cannot hear the
region just then).  Every request goes through the REST API; an
action the API acknowledged (``202``, or ``200`` for a duplicate) must
reach exactly one outcome.
"""

from __future__ import annotations

from random import Random
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from pserv.sim.operators import Operator
from pserv.util.times import iso_from_seconds

KINDS = ("on", "off", "cycle", "soft_off", "query")
KIND_WEIGHTS = (3, 3, 2, 1, 1)
CHANCES = {
    "power": 0.25, "burst": 0.03, "bulk": 0.02, "cancel": 0.05, "add": 0.01, "delete": 0.006, "move": 0.03,
}
"""Probability per step (one simulated second) of each kind of operator work."""

BOOT_CHANCE = 0.3
"""How often an ``on`` or ``cycle`` names a boot device (drawn from the boot generator)."""
BOOT_DEVICES = ("pxe", "disk", "cdrom", "bios")
LOCK_CHANCES = {"lock": 0.01, "unlock": 0.01, "schedule": 0.03}
"""Probability per step of locking a node, unlocking one, and a power
request scheduled a few seconds ahead (``not_before``); drawn from a
random of their own, so that the rest of the workload draws as before."""

SCHEDULE_AHEAD = (1.0, 15.0)
"""How far ahead, in seconds of the operator's clock, a scheduled request asks."""


class WorkloadTargets(Protocol):
    """What the workload acts on: the world."""

    clock: Any
    rng: Random
    seed: int
    clusters: list[Any]

    def log(self, text: str) -> None: ...

    def live_nodes(self) -> list[int]: ...

    def new_bmc(self) -> str: ...

    def enrolled(self, address: str, node: int) -> None: ...

    def deleted(self, node: int) -> None: ...

    def node_clusters(self) -> dict[int, str | None]: ...

    def groups(self) -> list[str]: ...

    def cut_off_clusters(self) -> list[str]: ...

    def acknowledged(self, action: int, region: str | None = None) -> None: ...

    def server_error(self, what: str, status: int, body: Any) -> None: ...


class Workload:
    """Operators at work."""

    def __init__(self, world: WorkloadTargets, operator: Operator) -> None:
        self.world = world
        self.operator = operator
        self.actions: list[int] = []
        self.counts = {name: 0 for name in (*CHANCES, *LOCK_CHANCES)}
        self.lock_rng = Random(f"locks {world.seed}")
        self.answers: dict[str, int] = {}
        self._names = 0
        self._answering: str | None = None
        self._boot_rng = Random(f"boot {getattr(world, 'seed', 0)}")
        """Draws the boot devices, apart from :attr:`world`'s generator: the draws of everything else stay the same."""

    def step(self) -> None:
        """Draw what the operators do during the next second."""
        rng = self.world.rng
        for name, chance in CHANCES.items():
            if rng.random() < chance:
                self.counts[name] += 1
                getattr(self, "_" + name)(rng)
        for name, chance in LOCK_CHANCES.items():
            if self.lock_rng.random() < chance:
                self.counts[name] += 1
                getattr(self, "_" + name)(self.lock_rng)

    def add_node(self, rng: Random) -> None:
        """Enrol a node on a new BMC, in the group half the time (if there is one), else on a random cluster."""
        address = self.world.new_bmc()
        self._names += 1
        groups = self.world.groups()
        place = ({"group": rng.choice(groups)} if groups and rng.random() < 0.5
                 else {"cluster": rng.choice(self.world.clusters).name})
        body = {
            "name": f"node-{self._names}", **place,
            "power_type": "fake", "power_parameters": {"address": address},
            "drift_policy": rng.choice(("observe", "enforce")),
        }
        self._call("POST", "/api/v1/nodes", body, lambda node: self.world.enrolled(address, node["id"]))

    def _at(self, rng: Random, seconds: float = 1.0) -> float:
        return rng.uniform(0, seconds)

    def _kind(self, rng: Random) -> str:
        return rng.choices(KINDS, KIND_WEIGHTS)[0]

    def _power(self, rng: Random) -> None:
        nodes = self.world.live_nodes()
        if nodes:
            self._request(rng.choice(nodes), self._kind(rng), self._at(rng))

    def _burst(self, rng: Random) -> None:
        nodes = self.world.live_nodes()
        if nodes:
            node = rng.choice(nodes)
            for _ in range(rng.randint(3, 6)):
                self._request(node, self._kind(rng), self._at(rng, 0.5))

    def _bulk(self, rng: Random) -> None:
        nodes = self.world.live_nodes()
        if not nodes:
            return
        if rng.random() < 0.5:
            body: dict[str, Any] = {"nodes": rng.sample(nodes, rng.randint(1, len(nodes)))}
        else:
            body = {"filter": {"cluster": rng.choice(self.world.clusters).name}}
        body["action"] = self._kind(rng)
        body.update(self._boot(body["action"]))
        self._later(self._at(rng), "POST", "/api/v1/power", body,
                    lambda answer: [self._acked(a) for a in answer["actions"]])

    def _cancel(self, rng: Random) -> None:
        if self.actions:
            action = rng.choice(self.actions[-20:])
            self._later(self._at(rng), "POST", f"/api/v1/actions/{action}/cancel", None, None)

    def _add(self, rng: Random) -> None:
        self.add_node(rng)

    def _delete(self, rng: Random) -> None:
        nodes = self.world.live_nodes()
        if len(nodes) > 1:
            node = rng.choice(nodes)
            self.world.deleted(node)
            self._later(self._at(rng), "DELETE", f"/api/v1/nodes/{node}", None, None)

    def _move(self, rng: Random) -> None:
        """
        Move a node that names a cluster (not a group) to another cluster: half the time one whose cluster is
        down or partitioned, if any, and half the time just after asking
        for power (so that the move meets an action in flight).
        """
        clusters = self.world.node_clusters()
        nodes = [node for node in self.world.live_nodes() if node in clusters]
        if not nodes or len(self.world.clusters) < 2:
            return
        unreachable = self.world.cut_off_clusters()
        cut_off = [node for node in nodes if clusters[node] in unreachable]
        node = rng.choice(cut_off) if cut_off and rng.random() < 0.5 else rng.choice(nodes)
        target = rng.choice([c.name for c in self.world.clusters if c.name != clusters[node]])
        at = self._at(rng)
        if rng.random() < 0.5:
            self._request(node, self._kind(rng), at)
            at += rng.uniform(0, 0.5)
        self._later(at, "PATCH", f"/api/v1/nodes/{node}", {"cluster": target}, None)

    def _lock(self, rng: Random) -> None:
        nodes = self.world.live_nodes()
        if nodes:
            self._later(self._at(rng), "POST", f"/api/v1/nodes/{rng.choice(nodes)}/lock", {"reason": "sim: hands off"},
                        None)

    def _unlock(self, rng: Random) -> None:
        nodes = self.world.live_nodes()
        if nodes:
            self._later(self._at(rng), "POST", f"/api/v1/nodes/{rng.choice(nodes)}/unlock", None, None)

    def _schedule(self, rng: Random) -> None:
        """A power request for a few seconds ahead, by the operator's clock (the region reads it by its own)."""
        nodes = self.world.live_nodes()
        if nodes:
            at = self._at(rng)
            when = iso_from_seconds(self.world.clock.seconds() + at + rng.uniform(*SCHEDULE_AHEAD))
            body = {"action": self._kind(rng), "not_before": when}
            self._later(at, "POST", f"/api/v1/nodes/{rng.choice(nodes)}/power", body, self._acked)

    def _request(self, node: int, kind: str, at: float) -> None:
        self._later(at, "POST", f"/api/v1/nodes/{node}/power", {"action": kind, **self._boot(kind)}, self._acked)

    def _boot(self, kind: str) -> dict[str, Any]:
        """Now and then, for an ``on`` or ``cycle``, a boot device (persistent one time in four)."""
        rng = self._boot_rng
        if kind not in ("on", "cycle") or rng.random() >= BOOT_CHANCE:
            return {}
        return {"boot_device": rng.choice(BOOT_DEVICES), "boot_persistent": rng.random() < 0.25}

    def _acked(self, action: dict[str, Any]) -> None:
        self.actions.append(action["id"])
        self.world.acknowledged(action["id"], self._answering)

    def _later(self, at: float, method: str, path: str, body: Any, done: Any) -> None:
        self.world.clock.callLater(at, self._call, method, path, body, done)

    def _call(self, method: str, path: str, body: Any, done: Any) -> Deferred[None]:
        what = f"{method} {path}" + (f" {body}" if body is not None else "")
        region = self.operator.region()
        self.world.log(f"operator: {what} to {region}")
        calling = Deferred.fromCoroutine(self.operator.call(method, path, body, region))
        return calling.addCallbacks(self._answered, self._unanswered, (what, done, region), None, (what,))

    def _answered(self, answer: tuple[int, Any], what: str, done: Any, region: str | None = None) -> None:
        status, body = answer
        self._answering = region
        self.answers[str(status)] = self.answers.get(str(status), 0) + 1
        ident = f" (action {body['id']})" if isinstance(body, dict) and "kind" in body else ""
        self.world.log(f"operator: {status}{ident} for {what}")
        if status >= 500 or status == 401 or (status == 400 and not _nothing_matched(body)):
            self.world.server_error(what, status, body)
        elif status < 300 and done is not None:
            done(body)

    def _unanswered(self, failure: Any, what: str) -> None:
        self.answers["no answer"] = self.answers.get("no answer", 0) + 1
        self.world.log(f"operator: no answer for {what}: {failure.type.__name__}: {failure.value}")


def _nothing_matched(body: Any) -> bool:
    """A bulk request whose filter matched no node: a fair refusal."""
    return isinstance(body, dict) and body.get("error") == "nodes: no node matches"
