"""
Power budgets across the whole system: a real region and cluster on
loopback driving forty emulated IPMI BMCs (pyghmi's BMC server, in its own
process, which logs when each chassis control came).  A bulk power-on
under a budget goes out in waves, as the BMCs' logs show; an ``off`` for a
node still waiting for its start means no power-on reaches it; after a
site power loss, nodes whose drift policy is ``enforce`` come back under
the same budget.

Every wait is on a state the API shows, polled with a deadline; the
assertions are on when the BMCs saw their controls, never on how long
anything took.  The budget is written into the region's database as its
rows (``budgets``, ``nodes.budget``), through SQLite's own locking, while
the region runs: the budgets' REST API is not on main yet.
"""

import time

import pytest_twisted

from tests.system.processes import api_call, stop_all, until

SECRET = "budget-bmc-secret"
COUNT = 40
STARTS, PER_SECONDS = 8, 4.0
LATE_ANSWER = 1.0
"""A power-on reaches its BMC within about this long of its grant (pserv.cluster.starts)."""
ON = 1
FINAL = {"done", "failed", "superseded", "cancelled"}
FINISH = 120.0
"""The most any wait for actions to end may take."""


call = api_call


@pytest_twisted.async_yield_fixture
async def system(tmp_path):
    from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs
    from tests.system.processes import init_region, start_cluster, start_region

    from twisted.internet import reactor

    bmcs = PyghmiBMCs(reactor, COUNT, "admin", SECRET)
    ports = await bmcs.start()
    data, token, secret = init_region(tmp_path)
    region, url, rpc = await start_region(reactor, data)
    cluster = await start_cluster(reactor, rpc, secret, "--sync-interval", "5")
    world = {"bmcs": bmcs, "ports": {}, "nodes": [], "token": token, "region": region, "url": url, "cluster": cluster}
    for i, port in enumerate(ports):
        name = f"n{i + 1:02d}"
        node = {"name": name, "cluster": "rack-1", "power_type": "ipmi", "drift_policy": "enforce",
                "power_parameters": {"address": "127.0.0.1", "port": port, "username": "admin", "password": SECRET}}
        code, body = await call(world, "POST", "/api/v1/nodes", node)
        assert code == 201, body
        world["ports"][name] = port
        world["nodes"].append(body)
    under_budget(data / "region.sqlite")
    yield world
    await stop_all(world["cluster"], world["region"])
    await bmcs.stop()


def under_budget(database):
    """Make the budget pdu-1 and put every node under it, in the running region's database."""
    from datetime import datetime

    from sqlalchemy import create_engine, insert, update

    from pserv.region import schema

    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 30})
    now = datetime.utcnow()
    with engine.begin() as connection:
        connection.execute(insert(schema.budgets).values(
            name="pdu-1", starts=STARTS, per_seconds=PER_SECONDS, created_at=now, updated_at=now))
        connection.execute(update(schema.nodes).values(budget="pdu-1"))
    engine.dispose()


async def power_ons(system, since=0.0):
    """When each BMC got a power-on after ``since`` (wall clock), by node name."""
    found = {}
    for name, port in system["ports"].items():
        stats = await system["bmcs"].stats(port)
        found[name] = [at for code, at in zip(stats["controls"], stats["controlled_at"]) if code == ON and at > since]
    return found


def most_in_a_window(times, seconds):
    """The most of ``times`` that fall in any window of ``seconds``."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + seconds) for i, start in enumerate(times)), default=0)


async def all_final(system, ids):
    async def check():
        chunk = ",".join(str(i) for i in sorted(ids))
        code, page = await call(system, "GET", f"/api/v1/actions?ids={chunk}")
        actions = {a["id"]: a for a in page["items"]}
        return actions if len(actions) == len(ids) and all(a["status"] in FINAL for a in actions.values()) else False
    return await until(check, f"every action of {sorted(ids)} final", FINISH)


@pytest_twisted.ensureDeferred
async def test_a_bulk_on_goes_out_in_waves_and_an_off_while_waiting_sends_nothing(system):
    """40 nodes under 8 per 4 s: power-ons reach the BMCs in waves; the node switched off while waiting gets none."""
    names = sorted(system["ports"])
    code, bulk = await call(system, "POST", "/api/v1/power", {"action": "on", "nodes": names})
    assert code == 202, bulk
    ids = {node["id"]: node["name"] for node in system["nodes"]}
    last = ids[max(bulk["actions"], key=lambda a: a["id"])["node"]]  # the last in line

    code, off = await call(system, "POST", f"/api/v1/nodes/{last}/power", {"action": "off"})
    assert code == 202, off
    await all_final(system, [a["id"] for a in bulk["actions"]] + [off["id"]])
    sent = await power_ons(system)
    assert sent.pop(last) == []
    assert all(len(times) == 1 for times in sent.values())
    every = [t for times in sent.values() for t in times]
    assert most_in_a_window(every, PER_SECONDS - LATE_ANSWER) <= STARTS
    assert SECRET not in system["cluster"].output + system["region"].output


@pytest_twisted.ensureDeferred
async def test_after_a_site_power_loss_enforced_nodes_come_back_in_waves(system):
    """Every BMC loses power at once: the sweep sees it, and enforce switches the nodes back on under the budget."""
    names = sorted(system["ports"])
    code, bulk = await call(system, "POST", "/api/v1/power", {"action": "on", "nodes": names})
    assert code == 202, bulk
    await all_final(system, [a["id"] for a in bulk["actions"]])
    lost = time.time()
    for port in system["ports"].values():
        await system["bmcs"].set(port, "power", "off")

    async def all_back_on():
        sent = await power_ons(system, since=lost)
        return sent if all(sent.values()) else False

    sent = await until(all_back_on, "every node switched back on after the power loss", FINISH)
    every = [t for times in sent.values() for t in times]
    assert len(every) == COUNT
    assert most_in_a_window(every, PER_SECONDS - LATE_ANSWER) <= STARTS
