"""
A whole pserv in one process: a region (SQLite, its API and its RPC on
loopback) and a cluster connected to it over real TCP with TLS, driving
in-memory BMCs.  Waiting is on events (a Deferred per action outcome the
region receives), never on polling.
"""

import json

import pytest_twisted
import treq
from twisted.internet.defer import Deferred

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
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
        self.outcome_calls = []
        self._watch_outcomes()
        self._watch_running()

    def _watch_running(self):
        clusters = self.region.clusters
        original = clusters.report_running

        def report_running(cluster, report):
            done = original(cluster, report)
            waiter = self.running.setdefault(report.action, Deferred())
            done.addCallback(lambda result: (None if waiter.called else waiter.callback(report.action), result)[1])
            return done

        clusters.report_running = report_running

    def running_of(self, action_id):
        """Fires once the region has recorded ``action_id`` as running."""
        return self.running.setdefault(action_id, Deferred())

    def _watch_outcomes(self):
        clusters = self.region.clusters
        original = clusters.report_outcome

        def report_outcome(cluster, outcome):
            self.outcome_calls.append(outcome.action)
            done = original(cluster, outcome)
            waiter = self.outcomes.setdefault(outcome.action, Deferred())
            done.addCallback(lambda applied: (None if waiter.called else waiter.callback(outcome), applied)[1])
            return done

        clusters.report_outcome = report_outcome

    def outcome_of(self, action_id):
        """Fires with the outcome the region receives for ``action_id``."""
        return self.outcomes.setdefault(action_id, Deferred())

    async def api(self, method, path, body=None):
        headers = {"Authorization": [f"Bearer {self.token}"]}
        response = await treq.request(method, self.url + path, json=body, headers=headers)
        return response.code, json.loads(await response.content() or b"null")

    async def enrol(self, name, **params):
        code, node = await self.api("POST", "/api/v1/nodes", {
            "name": name, "cluster": "rack-1", "power_type": "fake",
            "power_parameters": {"address": name, **params},
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


@pytest_twisted.async_yield_fixture
async def pserv(tmp_path):
    # klein imports the global reactor: only once pytest-twisted chose it.
    from twisted.internet import reactor

    from pserv.region.service import Region, initialize

    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
    token = initialize(config)
    region = Region(config, reactor, power_types=POWER_TYPES_WITH_FAKE)
    region.start()
    fleet = FakeFleet(reactor, latency=0.02, settle=0.1)
    daemon = ClusterDaemon(reactor, DriverSet(reactor, {"fake": FakeDriver(reactor, fleet)}), interval=3600)
    rpc_port = region.rpc_port.getHost().port
    connection = RegionConnection.to_region(
        reactor, f"127.0.0.1:{rpc_port}", "rack-1", load_secret(config.secret_path),
        daemon, daemon.region_ready, initial_delay=0.05, max_delay=0.2,
    )
    connection.startService()
    await connection.when_ready()
    system = Pserv(region, token, fleet, daemon, connection)
    yield system
    await connection.stopService()
    await daemon.stop()
    await region.stop()
