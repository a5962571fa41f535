"""
Several regions on one PostgreSQL, and a cluster group failing over: real
processes on loopback.  Two regions (A and B, one schema of the test
database), three clusters of group ``row-a`` (each given B first, so all
connect to B), thirty emulated IPMI BMCs (one child process, which records
every chassis control each BMC receives) and thirty nodes of the group.

The lease is short (:data:`LEASE` seconds), so that failover is quick.
Every wait is on a line a process prints or on a state the API shows,
polled with a deadline; nothing waits a fixed time to assert something.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest
import pytest_twisted
import treq
from sqlalchemy import create_engine, text
from twisted.internet.protocol import Protocol

from tests.system.processes import pause, until

POSTGRES = os.environ.get("PSERV_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "regions-bmc-secret"
LEASE = 6.0
"""``--cluster-lease``: a member heartbeats every LEASE/3 seconds."""
FAILOVER = LEASE + LEASE / 3 + 2 + 2 * 2 + 10
"""
The most a dead or frozen member's nodes may take to move, from when it
stopped: its lease and a heartbeat, the region's grace (2 s), two of the
leader's passes (2 s each: one sees the last heartbeat, one fails over),
and room for a loaded machine.
"""
FINISH = 120.0
"""The most any wait for actions to end may take."""
COUNT = 30
GROUP = "row-a"
MEMBERS = ("rack-1", "rack-2", "rack-3")
ON, OFF = 1, 0
FINAL = {"done", "failed", "superseded", "cancelled"}


def _reactor():
    from twisted.internet import reactor

    return reactor


class World:
    """Everything running, and ways to talk to it."""

    def __init__(self, tmp_path, url, bmcs, ports, secret):
        self.tmp_path, self.database, self.bmcs, self.ports, self.secret = tmp_path, url, bmcs, ports, secret
        self.token = None
        self.regions = {}  # name -> (process, api URL, RPC HOST:PORT)
        self.clusters = {}  # name -> process
        self.nodes = {}  # name -> node (as enrolled)
        self.port_of = {}  # node name -> its BMC's port

    def url(self, region):
        return self.regions[region][1]

    async def api(self, region, method, path, body=None):
        headers = {"Authorization": [f"Bearer {self.token}"]}
        response = await treq.request(method, self.url(region) + path, json=body, headers=headers)
        return response.code, json.loads(await response.content() or b"null")

    async def ok(self, region, method, path, body=None, codes=(200,)):
        code, answer = await self.api(region, method, path, body)
        assert code in codes, (method, path, code, answer)
        return answer

    async def actions(self, region, ids):
        """The actions ``ids``, by id (read 100 at a time)."""
        found = {}
        ids = sorted(ids)
        for start in range(0, len(ids), 100):
            chunk = ",".join(str(i) for i in ids[start:start + 100])
            page = await self.ok(region, "GET", f"/api/v1/actions?ids={chunk}")
            found.update({a["id"]: a for a in page["items"]})
        return found

    async def all_final(self, region, ids):
        """Wait until every action of ``ids`` is final; them, by id."""
        async def check():
            actions = await self.actions(region, ids)
            pending = {i: a["status"] for i, a in actions.items() if a["status"] not in FINAL}
            return actions if len(actions) == len(ids) and not pending else False
        return await until(check, f"every action of {sorted(ids)} final on {region}", FINISH)

    async def events(self, region, after=0):
        """Every event after ``after``, oldest first."""
        found = []
        path = f"/api/v1/events?after={after}&limit=1000"
        while path:
            page = await self.ok(region, "GET", path)
            found += page["items"]
            path = page["next"]
        return found

    async def newest_event(self, region):
        page = await self.ok(region, "GET", "/api/v1/events?order=desc&limit=1")
        return page["items"][0]["id"] if page["items"] else 0

    async def node_list(self, region):
        found, path = [], "/api/v1/nodes?limit=1000"
        while path:
            page = await self.ok(region, "GET", path)
            found += page["items"]
            path = page["next"]
        return {n["name"]: n for n in found if n["group"] == GROUP}

    async def controls(self):
        """Each node's BMC's chassis controls so far, by node name."""
        return {name: (await self.bmcs.stats(port))["controls"] for name, port in self.port_of.items()}

    async def _clusters(self, region):
        answer = await self.ok(region, "GET", "/api/v1/clusters")
        items = answer["items"] if isinstance(answer, dict) else answer
        return {c["name"]: c for c in items if c["name"] in MEMBERS}

    async def connected_to(self, region, via, members=MEMBERS):
        """Wait until ``members`` all show, on region ``via``, connected to ``region`` with a heartbeat."""
        async def check():
            clusters = await self._clusters(via)
            good = all(name in clusters and clusters[name]["connected"] and clusters[name]["region"] == region
                       and clusters[name]["last_heartbeat"] is not None for name in members)
            return clusters if good else False
        return await until(check, f"{members} connected to {region}, as {via} shows", FINISH)


def _init(world, data_dir):
    """``pserv-region --database URL --data-dir D init``; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "pserv.scripts.region", "--database", world.database, "--data-dir", str(data_dir),
         "init"], capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def start_region(world, name):
    from tests.system.processes import spawn

    region = spawn(_reactor(), name, "pserv.scripts.region", "--database", world.database,
                   "--data-dir", str(world.tmp_path / name), "run", "--name", name,
                   "--cluster-lease", str(LEASE), "--listen", "127.0.0.1:0", "--rpc-listen", "127.0.0.1:0")
    rpc = await region.wait_for(r"RPC for clusters on ([\d.]+):(\d+) \(TLS\)", 0)
    api = await region.wait_for(r"listening on (http://[\d.]+:\d+)/", 0)
    world.regions[name] = (region, api.group(1), f"{rpc.group(1)}:{rpc.group(2)}")


async def start_cluster(world, name, regions):
    from tests.system.processes import spawn

    addresses = ",".join(world.regions[r][2] for r in regions)
    cluster = spawn(_reactor(), name, "pserv.scripts.cluster", "run", "--group", GROUP, "--name", name,
                    "--region", addresses, "--secret-file", str(world.secret), "--sync-interval", "3600")
    world.clusters[name] = cluster
    await cluster.wait_for(r"recovered \d+ node", 0)


async def _stop(process):
    if process.ended.called:
        return
    process.transport.signalProcess(signal.SIGCONT)
    process.transport.signalProcess("TERM")
    process.ended.addTimeout(20, _reactor(), onTimeoutCancel=lambda result, t: process.kill("KILL"))
    try:
        await process.ended
    except Exception:  # the timeout's cancel: killed
        pass
    if not process.ended.called:
        await process.kill("KILL")


@pytest.fixture
def schema_url():
    """A private schema of the test database; its URL. Dropped after."""
    name = f"pserv_regions_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
    except Exception as e:  # pragma: no cover - the message is the point
        pytest.fail(f"PostgreSQL at {POSTGRES} is needed for the regions' tests: {e}")
    yield f"{POSTGRES}?options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


@pytest_twisted.async_yield_fixture
async def world(tmp_path, schema_url):
    """Regions A and B, the three members of row-a on B, and thirty nodes of row-a, each read as on."""
    from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs

    bmcs = PyghmiBMCs(_reactor(), COUNT, "admin", SECRET)
    ports = await bmcs.start()
    for port in ports:
        await bmcs.set(port, "power", "on")
    world = World(tmp_path, schema_url, bmcs, ports, tmp_path / "cluster-secret")
    try:
        (tmp_path / "region-a").mkdir()
        first = _init(world, tmp_path / "region-a")
        world.token = first.split("admin token (shown once): ")[1].strip()
        (tmp_path / "region-b").mkdir()
        shutil.copy(tmp_path / "region-a" / "secret", tmp_path / "region-b" / "secret")
        (tmp_path / "region-b" / "secret").chmod(0o600)
        second = _init(world, tmp_path / "region-b")
        assert "admin token" not in second, second
        shutil.copy(tmp_path / "region-a" / "secret", world.secret)
        world.secret.chmod(0o600)
        await start_region(world, "region-a")
        await start_region(world, "region-b")
        for name in MEMBERS:
            await start_cluster(world, name, ["region-b", "region-a"])
        await world.connected_to("region-b", "region-a")
        for i, port in enumerate(ports):
            name = f"n{i + 1:02d}"
            node = await world.ok("region-a", "POST", "/api/v1/nodes", {
                "name": name, "group": GROUP, "power_type": "ipmi",
                "power_parameters": {"address": "127.0.0.1", "port": port, "username": "admin", "password": SECRET},
            }, codes=(201,))
            world.nodes[name], world.port_of[name] = node, port

        async def all_held():
            nodes = await world.node_list("region-a")
            loose = {n: v["cluster"] for n, v in nodes.items() if v["cluster"] not in MEMBERS}
            return nodes if len(nodes) == COUNT and not loose else False

        await until(all_held, "every node held by a member", FINISH)
        # A node given to a member is read at its next sweep (an hour away
        # here) or by a request: read them all now, so each test starts idle.
        await all_done(world, "region-a", await bulk(world, "region-a", "query"))
        nodes = await world.node_list("region-a")
        assert {n["power_state"] for n in nodes.values()} == {"on"}, nodes
        assert {n["cluster"] for n in nodes.values()} == set(MEMBERS), nodes
        yield world
    finally:
        for process in [*world.clusters.values(), *(r[0] for r in world.regions.values())]:
            await _stop(process)
            (tmp_path / f"{process.name}.log").write_text(process.output)
        await bmcs.stop()


class Stream(Protocol):
    """One ``GET /api/v1/events/stream``, its events parsed as they come."""

    def __init__(self):
        self.buffer = ""
        self.events = []

    def dataReceived(self, data):
        self.buffer += data.decode()
        while "\n\n" in self.buffer:
            block, self.buffer = self.buffer.split("\n\n", 1)
            for line in block.splitlines():
                if line.startswith("data: "):
                    self.events.append(json.loads(line[len("data: "):]))

    def close(self):
        self.transport.stopProducing()


async def open_stream(world, region, after):
    response = await treq.get(world.url(region) + f"/api/v1/events/stream?after={after}",
                              headers={"Authorization": [f"Bearer {world.token}"]}, unbuffered=True)
    assert response.code == 200
    stream = Stream()
    response.deliverBody(stream)
    return stream


def _of(events, ids):
    return [(e["id"], e["kind"], e["action"]) for e in events if e.get("action") in ids]


@pytest_twisted.ensureDeferred
async def test_requests_to_one_region_run_on_clusters_of_the_other(world):
    """Requests sent to region A, while every cluster is connected to B, all end done; both regions show the clusters on B and stream the same events."""
    for via in ("region-a", "region-b"):
        await world.connected_to("region-b", via)
    after = await world.newest_event("region-a")
    streams = {r: await open_stream(world, r, after) for r in ("region-a", "region-b")}
    try:
        bulk = await world.ok("region-a", "POST", "/api/v1/power", {"action": "off", "filter": {"group": GROUP}},
                              codes=(202,))
        ids = {a["id"] for a in bulk["actions"]}
        assert len(ids) == COUNT
        offs = await world.all_final("region-a", ids)
        assert {a["status"] for a in offs.values()} == {"done"}, offs
        for name in world.nodes:
            action = await world.ok("region-a", "POST", f"/api/v1/nodes/{name}/power", {"action": "on"}, codes=(202,))
            ids.add(action["id"])
        done = await world.all_final("region-a", ids)
        assert {a["status"] for a in done.values()} == {"done"}, done
        assert await world.controls() == {name: [OFF, ON] for name in world.nodes}
        stored = _of(await world.events("region-b", after), ids)
        assert sum(kind == "action_done" for _, kind, _ in stored) == 2 * COUNT, stored

        async def streamed():
            return all(len(_of(s.events, ids)) >= len(stored) for s in streams.values())

        await until(streamed, "the streams of A and B sent every event of the actions", 30)
        assert _of(streams["region-a"].events, ids) == stored
        assert _of(streams["region-b"].events, ids) == stored
    finally:
        for stream in streams.values():
            stream.close()
    for via in ("region-a", "region-b"):
        clusters = await world.connected_to("region-b", via)
        assert {c["group"] for c in clusters.values()} == {GROUP}


async def bulk(world, region, action):
    """``POST /api/v1/power`` of ``action`` for the whole group, through ``region``; its action ids."""
    answer = await world.ok(region, "POST", "/api/v1/power", {"action": action, "filter": {"group": GROUP}},
                            codes=(202,))
    assert len(answer["actions"]) == COUNT, answer
    return {a["id"] for a in answer["actions"]}


async def all_done(world, region, ids):
    actions = await world.all_final(region, ids)
    assert {a["id"]: a["status"] for a in actions.values()} == {i: "done" for i in ids}, actions
    return actions


def off_verified(world, ids):
    """Fires with (cluster, action, node) once a member prints that one of ``ids`` has verified off."""
    from twisted.internet.defer import DeferredList

    pattern = r"action (" + "|".join(str(i) for i in sorted(ids)) + r") on node (\d+): off_verified"
    waits = [world.clusters[name].wait_for(pattern, 0, timeout=FINISH) for name in MEMBERS]
    first = DeferredList(waits, fireOnOneCallback=True, fireOnOneErrback=True, consumeErrors=True)

    def found(result):
        match, index = result
        for other in waits:
            if not other.called:
                other.cancel()
        return MEMBERS[index], int(match.group(1)), int(match.group(2))

    return first.addCallback(found)


@pytest_twisted.ensureDeferred
async def test_region_killed_after_its_202s_loses_no_request(world):
    """Region A SIGKILLed right after answering 202 for a bulk cycle: the clusters stay on B and every acknowledged action ends done, each BMC switched off once and on once."""
    ids = await bulk(world, "region-a", "cycle")
    await world.regions["region-a"][0].kill("KILL")
    await all_done(world, "region-b", ids)
    assert await world.controls() == {name: [OFF, ON] for name in world.nodes}
    await world.connected_to("region-b", "region-b")


@pytest_twisted.ensureDeferred
async def test_region_killed_under_its_clusters_they_fail_over(world):
    """Region B SIGKILLed mid bulk cycle while every cluster is connected to it: they fail over to A and every acknowledged action ends done, each BMC switched off once and on once."""
    ids = await bulk(world, "region-b", "cycle")
    await off_verified(world, ids)
    await world.regions["region-b"][0].kill("KILL")
    await world.connected_to("region-a", "region-a")
    await all_done(world, "region-a", ids)
    assert await world.controls() == {name: [OFF, ON] for name in world.nodes}


@pytest_twisted.ensureDeferred
async def test_cluster_killed_mid_cycle_its_nodes_fail_over(world):
    """A member SIGKILLed mid bulk cycle: its nodes fail over to the other two within a lease and a few seconds, every action ends done, and each BMC is switched off once and on once, nothing more."""
    after = await world.newest_event("region-a")
    ids = await bulk(world, "region-a", "cycle")
    victim, action, node = await off_verified(world, ids)
    await world.clusters[victim].kill("KILL")
    held = await world.node_list("region-b")
    lost = {name for name, n in held.items() if n["cluster"] == victim}
    assert lost and node in {held[name]["id"] for name in lost}

    async def moved():
        nodes = await world.node_list("region-b")
        still = {name for name in lost if nodes[name]["cluster"] == victim}
        return nodes if not still else False

    nodes = await until(moved, f"the nodes of {victim} failed over", FAILOVER)
    others = set(MEMBERS) - {victim}
    assert {nodes[name]["cluster"] for name in lost} <= others
    assert all(nodes[name]["cluster"] == held[name]["cluster"] for name in set(held) - lost)
    await all_done(world, "region-a", ids)
    failed_over = [e for e in await world.events("region-a", after) if e["kind"] == "node_failed_over"]
    assert sorted(e["node_name"] for e in failed_over) == sorted(lost), failed_over
    assert await world.controls() == {name: [OFF, ON] for name in world.nodes}
    interrupted = (await world.actions("region-a", [action]))[action]
    assert interrupted["status"] == "done"


@pytest_twisted.ensureDeferred
async def test_frozen_cluster_sends_nothing_for_the_nodes_it_lost(world):
    """A member SIGSTOPped past its lease, with requests sent to it meanwhile: its nodes fail over and their requests end done on the new holders; woken, it says its lease ended and sends no command, each BMC showing only the new holders' commands."""
    victim = MEMBERS[2]
    process = world.clusters[victim]
    held = await world.node_list("region-a")
    lost = sorted(name for name, n in held.items() if n["cluster"] == victim)
    assert lost
    stopped_at, mark = time.monotonic(), len(process.output)
    process.transport.signalProcess("STOP")
    offs = set()
    for name in lost:
        offs.add((await world.ok("region-a", "POST", f"/api/v1/nodes/{name}/power", {"action": "off"},
                                 codes=(202,)))["id"])

    async def moved():
        nodes = await world.node_list("region-a")
        return nodes if all(nodes[name]["cluster"] != victim for name in lost) else False

    nodes = await until(moved, f"the nodes of frozen {victim} failed over", FAILOVER)
    assert {nodes[name]["cluster"] for name in lost} <= set(MEMBERS) - {victim}
    await all_done(world, "region-a", offs)
    ons = set()
    for name in lost:
        ons.add((await world.ok("region-a", "POST", f"/api/v1/nodes/{name}/power", {"action": "on"},
                                codes=(202,)))["id"])
    await all_done(world, "region-a", ons)
    expected = {name: [OFF, ON] if name in lost else [] for name in world.nodes}
    assert await world.controls() == expected
    # The scenario, not an assertion: frozen for three leases in all.
    await pause(max(0.0, stopped_at + 3 * LEASE - time.monotonic()))
    process.transport.signalProcess(signal.SIGCONT)
    ended = await process.wait_for(r"cluster lease ended", mark, timeout=FINISH)
    await process.wait_for(r"recovered \d+ node", ended.end(), timeout=FINISH)
    assert await world.controls() == expected

    async def back():
        nodes = await world.node_list("region-a")
        return nodes if all(nodes[name]["cluster"] == victim for name in lost) else False

    await until(back, f"the nodes of {victim} handed back to it", FINISH)
    await world.connected_to("region-b", "region-a")
    assert await world.controls() == expected
