"""
A whole pserv in one process: a region (SQLite, its API and its RPC on
loopback) and a cluster connected to it over real TCP with TLS, driving
in-memory BMCs (``pserv``) or, with the production drivers, emulated BMCs
and PDUs on loopback (``pserv_drivers``).  Waiting is on events (a
Deferred per report the region receives), never on polling.
"""

import json

import pytest_twisted
import treq
from twisted.internet.defer import Deferred

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.power.types import POWER_TYPES
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE, FakeDriver
from pserv.testing.power import FakeFleet
from pserv.region.config import RegionConfig
from pserv.rpc.auth import load_secret
from pserv.rpc.service import RegionConnection


class Pserv:
    """The running system, and ways to talk to it and wait on it."""

    def __init__(self, region, token, fleet, daemon, connection):
        self.region, self.token, self.fleet = region, token, fleet
        self.daemon, self.connection = daemon, connection
        port = region.port.getHost().port
        self.url = f"http://127.0.0.1:{port}"
        self.outcomes = {}
        self.running = {}
        self.progress = {}
        self.outcome_calls = []
        self._watch_reports()

    def _watch_reports(self):
        clusters = self.region.clusters
        original = clusters.report_actions

        def report_actions(cluster, batch):
            self.outcome_calls.extend(outcome.action for outcome in batch.outcomes)
            return original(cluster, batch).addCallback(recorded, batch)

        def recorded(answer, batch):
            for waiters, reports in ((self.running, batch.running), (self.progress, batch.progress),
                                     (self.outcomes, batch.outcomes)):
                for report in reports:
                    waiter = waiters.setdefault(report.action, Deferred())
                    if report.action not in answer.retry and not waiter.called:
                        waiter.callback(report if waiters is self.outcomes else report.action)
            return answer

        clusters.report_actions = report_actions

    def running_of(self, action_id):
        """Fires once the region has recorded ``action_id`` as running."""
        return self.running.setdefault(action_id, Deferred())

    def progress_of(self, action_id):
        """Fires once the region has recorded a milestone of ``action_id`` (a cycle's ``off_verified``)."""
        return self.progress.setdefault(action_id, Deferred())

    def outcome_of(self, action_id):
        """Fires with the outcome the region receives for ``action_id``."""
        return self.outcomes.setdefault(action_id, Deferred())

    async def api(self, method, path, body=None):
        headers = {"Authorization": [f"Bearer {self.token}"]}
        response = await treq.request(method, self.url + path, json=body, headers=headers)
        return response.code, json.loads(await response.content() or b"null")

    async def enrol(self, name, **params):
        """Enrol a fake node, once its first read is done."""
        return await self.enrol_node(name, "fake", {"address": name, **params})

    async def enrol_node(self, name, power_type, params):
        """Enrol a node of ``power_type``, once its first read is done."""
        code, node = await self.api("POST", "/api/v1/nodes", {
            "name": name, "cluster": "rack-1", "power_type": power_type, "power_parameters": params,
        })
        assert code == 201, node
        await self.enrolment_read(node)
        return node

    async def enrolment_read(self, node):
        """Wait for the query a new node gets, so that tests start from an idle node."""
        code, actions = await self.api("GET", f"/api/v1/nodes/{node['id']}/actions")
        assert code == 200, actions
        for action in actions["items"]:
            if action["kind"] == "query":
                await self.outcome_of(action["id"])

    async def power(self, node, action):
        code, body = await self.api("POST", f"/api/v1/nodes/{node}/power", {"action": action})
        assert code in (200, 202), body
        return body


async def start_pserv(tmp_path, drivers, power_types, fleet=None):
    """A region and a cluster driving ``drivers``, connected; stop it with :func:`stop_pserv`."""
    # klein imports the global reactor: only once pytest-twisted chose it.
    from twisted.internet import reactor

    from pserv.region.service import Region, initialize

    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
    token = initialize(config)
    region = Region(config, reactor, power_types=power_types)
    region.start()
    daemon = ClusterDaemon(reactor, drivers, interval=3600)
    rpc_port = region.rpc_port.getHost().port
    connection = RegionConnection.to_region(
        reactor, f"127.0.0.1:{rpc_port}", "rack-1", load_secret(config.secret_path),
        daemon, daemon.region_ready, initial_delay=0.05, max_delay=0.2,
    )
    connection.startService()
    await connection.when_ready()
    return Pserv(region, token, fleet, daemon, connection)


async def stop_pserv(system):
    await system.connection.stopService()
    await system.daemon.stop()
    await system.region.stop()


@pytest_twisted.async_yield_fixture
async def pserv(tmp_path):
    """The whole system, its cluster driving a fleet of fake BMCs."""
    from twisted.internet import reactor

    fleet = FakeFleet(reactor, latency=0.02, settle=0.1)
    drivers = DriverSet(reactor, {"fake": FakeDriver(reactor, fleet)})
    system = await start_pserv(tmp_path, drivers, POWER_TYPES_WITH_FAKE, fleet)
    yield system
    await stop_pserv(system)


@pytest_twisted.async_yield_fixture
async def pserv_drivers(tmp_path):
    """The whole system, its cluster with the production drivers only, for emulated BMCs on loopback."""
    from twisted.internet import reactor

    system = await start_pserv(tmp_path, DriverSet(reactor), POWER_TYPES)
    yield system
    await stop_pserv(system)
