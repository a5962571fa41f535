"""
The client against the real region: its API on loopback, on real SQLite,
no stub in between.
"""

import json

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.server import Site

from pserv.client.http import ApiClient
from pserv.region.api import RegionAPI
from pserv.region.event_feed import POLL_SECONDS, EventFeed
from pserv.region.db import Database, make_engine
from pserv.region.request_timing import TimedRequest
from pserv.region.migrate import upgrade
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from pserv.region.store.tokens import create_token
from tests.client.conftest import run, start

SECRET = "e2e-secret-55"


@pytest.fixture
def database(tmp_path):
    """The region's database: real SQLite, migrated."""
    engine = make_engine(f"sqlite:///{tmp_path}/region.sqlite")
    upgrade(engine)
    database = Database(engine, reactor)
    yield database
    database.stop()


@pytest.fixture
def feed_clock():
    """The clock the region's event feed polls on."""
    return Clock()


@pytest.fixture
def region(database, feed_clock):
    from datetime import datetime

    token = database.run_now(create_token, "ops", datetime(2026, 11, 22))
    feed = EventFeed(database, feed_clock)
    api = RegionAPI(database, reactor, power_types=POWER_TYPES_WITH_FAKE, feed=feed)
    site = Site(api.resource())
    site.requestFactory = TimedRequest
    site.metrics = api.metrics
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield ApiClient(f"http://127.0.0.1:{port.getHost().port}", token, reactor)
    feed.stop()
    port.stopListening()


@pytest_twisted.ensureDeferred
async def test_enrol_power_and_inspect(region, capsys):
    """Nodes are added, powered and inspected through the real API, the secret never shown."""
    assert await run(["nodes", "add", "--name", "n1", "--power-type", "fake", "--set", "address=b1",
                      "--set", f"password={SECRET}"], region) == 0
    assert await run(["nodes", "add", "--name", "n2", "--power-type", "fake", "--set", "address=b2"], region) == 0
    assert await run(["power", "on", "n1"], region) == 0
    assert await run(["power", "off", "n1", "n2"], region) == 0
    capsys.readouterr()
    assert await run(["--json", "actions", "list", "n1"], region) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["kind"] for a in listed["items"]] == ["off", "on"]
    assert [a["status"] for a in listed["items"]] == ["pending", "superseded"]
    assert await run(["nodes", "show", "n1"], region) == 0
    assert await run(["events", "--node", "n1"], region) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "superseded" in out


@pytest_twisted.ensureDeferred
async def test_bad_input_from_the_real_api(region, capsys):
    """The real API's 400 and 404 come out as one line and exit 2."""
    assert await run(["nodes", "add", "--name", "n1", "--power-type", "fake", "--set", "latency=soon",
                      "--set", "address=b"], region) == 2
    assert await run(["power", "on", "ghost"], region) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "pserv: error: power_parameters.latency: must be a number" and "ghost" in err[1]


@pytest_twisted.ensureDeferred
async def test_a_viewer_token_is_refused_power_and_says_the_role(region, database, capsys):
    """whoami shows a viewer token's role; its power request is the region's 403, one line naming the role, exit 1."""
    from datetime import datetime

    from pserv.region.roles import Role

    token = database.run_now(create_token, "eyes", datetime(2026, 11, 22), Role.VIEWER)
    viewer = ApiClient(region.base_url, token, reactor)
    assert await run(["whoami"], viewer) == 0
    assert "role:       viewer" in capsys.readouterr().out
    assert await run(["power", "on", "n1"], viewer) == 1
    assert capsys.readouterr().err == (
        "pserv: error: this needs the operator role; token 'eyes' has the viewer role\n")


@pytest_twisted.ensureDeferred
async def test_metrics_prints_the_region_s_metrics(region, database, capsys):
    """pserv metrics prints the text format; --name keeps a family's samples; --json each family; a bad token is exit 1."""
    assert await run(["nodes", "add", "--name", "n1", "--power-type", "fake", "--set", "address=b1",
                      "--set", f"password={SECRET}"], region) == 0
    capsys.readouterr()
    assert await run(["metrics"], region) == 0
    out = capsys.readouterr().out
    assert "# TYPE pserv_actions_total counter" in out and SECRET not in out and "n1" not in out
    assert await run(["metrics", "--name", "pserv_clusters_connected"], region) == 0
    assert capsys.readouterr().out == "pserv_clusters_connected 0\n"
    assert await run(["--json", "metrics", "--name", "pserv_api_request_seconds"], region) == 0
    (family,) = [f for f in json.loads(capsys.readouterr().out) if f["name"] == "pserv_api_request_seconds"]
    routes = {s["labels"]["route"] for s in family["samples"]}
    assert family["type"] == "histogram" and {"/api/v1/nodes", "/metrics"} <= routes
    assert await run(["metrics"], ApiClient(region.base_url, "pserv_not-a-token", reactor)) == 1
    assert capsys.readouterr().err.startswith("pserv: error: ")


class Printed:
    """The events ``--follow --json`` prints, with a way to wait for them."""

    def __init__(self):
        self.events, self._waiting = [], []

    def __call__(self, event):
        self.events.append(event)
        for count, waiting in list(self._waiting):
            if len(self.events) >= count:
                self._waiting.remove((count, waiting))
                waiting.callback(None)

    def until(self, count):
        waiting = Deferred()
        if len(self.events) >= count:
            waiting.callback(None)
        else:
            self._waiting.append((count, waiting))
        return waiting


@pytest_twisted.ensureDeferred
async def test_follow_reads_the_real_stream(region, database, feed_clock, monkeypatch):
    """events --follow prints the log so far from the real region's stream, then each new event once stored."""
    from pserv.client import events
    from pserv.region.store.events import events_after

    printed = Printed()
    monkeypatch.setattr(events, "print_json_line", printed)
    assert await run(["nodes", "add", "--name", "n1", "--power-type", "fake", "--set", "address=b1"], region) == 0
    before = len(database.run_now(events_after, 0, 100))
    following = start(["events", "--follow", "--json"], region, Clock())
    await printed.until(before)
    assert await run(["power", "on", "n1"], region) == 0
    feed_clock.advance(POLL_SECONDS)
    stored = database.run_now(events_after, 0, 100)
    await printed.until(len(stored))
    assert printed.events == stored
    following.cancel()
    assert await following == 0
