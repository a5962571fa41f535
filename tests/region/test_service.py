"""
Tests for pserv.region.service.
"""

import shutil
import stat
import subprocess
import sys

import pytest
import pytest_twisted
from sqlalchemy import select
from twisted.internet import reactor
from twisted.internet.task import Clock

from pserv.region import schema
from pserv.region.config import RegionConfig
from pserv.region.service import NotInitialized, Region, initialize
from pserv.region.sqlite_lock import AnotherRegion
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE

NO_DRIVER_CODE = (
    "import sys, pserv.region.service, pserv.region.api; "
    "assert not {'pyghmi','pyipmi','pysnmp','OpenSSL', 'pysnmp', 'pyasn1', 'sushy', 'bcrypt', "
    "'sushy_tools', 'treq'} & {m.split('.')[0] for m in sys.modules}"
)
"""The issue's check: the BMC libraries (with the Redfish driver's treq and the
emulators' sushy_tools), and pyOpenSSL, which the region imports only when its
RPC listener starts."""

NO_DRIVER_MODULE = (
    "import sys, pserv.region.service, pserv.region.api; "
    "print([m for m in sys.modules if m.startswith(('pserv.power.drivers', 'pserv.testing', 'pserv.cluster'))"
    " or m in ('twisted.internet.reactor', 'klein')])"
)


def test_initialize_once(tmp_path):
    """init makes a private data dir, secret and database, and an admin token only the first time."""
    config = RegionConfig(data_dir=tmp_path / "data")
    token = initialize(config)
    assert token.startswith("pserv_") and initialize(config) is None
    for path, mode in [(config.data_dir, 0o700), (config.secret_path, 0o600), (config.data_dir / "region.sqlite", 0o600)]:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert len(config.secret_path.read_text().strip()) == 64


def test_a_second_regions_init_on_a_shared_database_keeps_the_copied_secret(tmp_path, engine, database_url):
    """A second region's init on the first's database, the first's secret copied in, keeps it and makes no token."""
    first = RegionConfig(data_dir=tmp_path / "a", database=database_url)
    assert initialize(first).startswith("pserv_")
    second = RegionConfig(data_dir=tmp_path / "b", database=database_url)
    second.data_dir.mkdir(mode=0o700)
    shutil.copy(first.secret_path, second.secret_path)
    assert initialize(second) is None
    assert second.secret_path.read_text() == first.secret_path.read_text()


def test_run_refuses_without_init(tmp_path):
    """A region whose database has no schema refuses to start."""
    region = Region(RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", rpc_listen="127.0.0.1:0"), reactor)
    with pytest.raises(NotInitialized):
        region.start()


@pytest_twisted.ensureDeferred
async def test_a_second_region_on_one_sqlite_database_is_refused(tmp_path):
    """A second region on the same SQLite database refuses to start, listening on nothing; once the first stops, it starts."""
    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
    initialize(config)
    first, second = Region(config, reactor), Region(config, reactor)
    first.start()
    try:
        with pytest.raises(AnotherRegion, match="SQLite serves one region"):
            second.start()
        assert second.port is None and second.rpc_port is None
    finally:
        await first.stop()
    second.start()
    await second.stop()


@pytest_twisted.ensureDeferred
async def test_sweep_fails_stuck_actions(tmp_path):
    """The sweep fails actions pending past the timeout, on the region's clock."""
    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", action_timeout=60)
    initialize(config)
    clock = Clock()
    clock.advance(1_800_000_000)
    region = Region(config, reactor, clock)
    from pserv.region.store.actions import request_power
    from pserv.region.store.nodes import create_node

    database = region.database
    database.run_now(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}},
                     region.api.now(), power_types=POWER_TYPES_WITH_FAKE)
    database.run_now(request_power, "n", "on", "admin", region.api.now())
    clock.advance(61)
    try:
        assert await region.sweep() is None
        status = database.run_now(lambda c: c.execute(select(schema.power_actions.c.status)).scalar())
    finally:
        database.stop()
    assert status == "failed"


class Recording:
    """A cluster's connection that records what it is handed."""

    def __init__(self):
        self.performed = []

    def perform_power(self, requests):
        from twisted.internet.defer import succeed

        self.performed.extend(request.action for request in requests)
        return succeed({})

    def release_node(self, release):
        from twisted.internet.defer import succeed

        return succeed(None)


@pytest_twisted.ensureDeferred
async def test_a_scheduled_action_outlives_a_restart_and_is_handed_over_at_its_time(tmp_path):
    """
    A scheduled action accepted by a region that then stops (its timer
    lost) is neither timed out nor handed over early by the next region's
    sweep, which arms its timer: it is handed over at its time, once.
    """
    from datetime import timedelta

    from pserv.region.store.actions import get_action
    from pserv.region.store.nodes import create_node

    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", action_timeout=60)
    initialize(config)
    clock = Clock()
    clock.advance(1_800_000_000)
    first = Region(config, reactor, clock, power_types=POWER_TYPES_WITH_FAKE)
    first.database.run_now(create_node, {"name": "n", "cluster": "rack-1", "power_type": "fake",
                                         "power_parameters": {"address": "n"}},
                           first.api.now(), power_types=POWER_TYPES_WITH_FAKE)
    action, _ = await first.api.ask_for_power("n", "off", "admin", not_before=first.api.now() + timedelta(seconds=100))
    first.clusters.stop_timers()
    first.database.stop()
    second = Region(config, reactor, clock, power_types=POWER_TYPES_WITH_FAKE)
    cluster = Recording()
    try:
        await second.clusters.cluster_connected("rack-1", cluster)
        clock.advance(80)
        await second.sweep()
        assert cluster.performed == [] and second.database.run_now(get_action, action["id"])["status"] == "pending"
        [timer] = second.clusters._timers.values()
        clock.advance(19)
        assert not timer.called and cluster.performed == []
        clock.advance(1.001)
        assert await timer == 1 and cluster.performed == [action["id"]]
        assert second.database.run_now(get_action, action["id"])["status"] == "sent"
    finally:
        second.clusters.stop_timers()
        second.database.stop()


@pytest_twisted.ensureDeferred
async def test_the_region_feeds_its_streams_on_its_clock_and_ends_them_when_it_stops(tmp_path):
    """The region's API streams from the region's own feed, polled on its clock; stopping ends every stream."""
    import treq

    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
    token = initialize(config)
    clock = Clock()
    region = Region(config, reactor, clock)
    region.start()
    try:
        assert region.api.feed is region.feed and region.feed.clock is clock
        url = f"http://127.0.0.1:{region.port.getHost().port}/api/v1/events/stream"
        response = await treq.get(url, headers={"Authorization": [f"Bearer {token}"]}, unbuffered=True)
        body = []
        ended = treq.collect(response, body.append)
        assert response.code == 200 and region.feed.listeners and region.feed.next_poll is not None
    finally:
        await region.stop()
    await ended
    assert b"".join(body) == b"retry: 2000\n\n" and region.feed.listeners == [] and not region.feed.polling


@pytest_twisted.ensureDeferred
async def test_a_started_region_tells_systemd_it_is_ready_and_then_stopping(tmp_path, monkeypatch):
    """Once both ports listen the region sends READY=1 and its ports to NOTIFY_SOCKET; stopping, STOPPING=1."""
    import socket

    config = RegionConfig(data_dir=tmp_path, listen="127.0.0.1:0", rpc_listen="127.0.0.1:0")
    initialize(config)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify_socket:
        notify_socket.bind(str(tmp_path / "notify"))
        notify_socket.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        region = Region(config, reactor, Clock())
        region.start()
        api, rpc = region.port.getHost().port, region.rpc_port.getHost().port
        try:
            ready, status = notify_socket.recv(100), notify_socket.recv(200)
        finally:
            await region.stop()
        stopping = notify_socket.recv(100)
    assert (ready, stopping) == (b"READY=1", b"STOPPING=1")
    assert status == f"STATUS=API on 127.0.0.1:{api}, clusters' RPC on 127.0.0.1:{rpc}".encode()


def test_importing_the_region_loads_no_bmc_library():
    """Importing the region's service and API, in a fresh interpreter, loads no BMC library and no pyOpenSSL."""
    done = subprocess.run([sys.executable, "-c", NO_DRIVER_CODE], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")


def test_importing_the_region_loads_no_driver_and_no_reactor():
    """Importing the region loads no driver, cluster or testing module, no klein and installs no reactor."""
    done = subprocess.run([sys.executable, "-c", NO_DRIVER_MODULE], capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout == "[]\n"
