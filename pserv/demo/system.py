"""
``pserv demo``: a whole pserv on this machine, on loopback.

It starts a region (SQLite in a data directory), one cluster connected to
it over TLS, a set of emulated IPMI BMCs (pyghmi's BMC server, in a child
process) and, where net-snmp's snmpd is installed, an emulated PDU;
registers them as nodes; prints the API's URL, a token and an admin user
of the UI with its password; optionally starts spare emulated BMCs that
it does not enrol, printing their ports and the emulators' user and
password, for adding a node by hand (as the browser tests do); takes a
short tour through the API (everything on, one node cycled, the UI's
login); and keeps serving until interrupted, for ``pserv`` commands and a
browser against it.
"""

from __future__ import annotations

import inspect

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from twisted.internet.defer import Deferred

DEMO_CLUSTER = "demo-cluster"
BMC_USERNAME = "admin"
"""The emulated BMCs' user (their password is new for each demo)."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``pserv demo`` was asked for."""

    nodes: int = 4
    spare_bmcs: int = 0
    listen: str = "127.0.0.1:5240"
    rpc_listen: str = "127.0.0.1:5250"
    data_dir: Path | None = None
    tour: bool = True
    stay: bool = True


def run_demo(options: DemoOptions) -> int:
    """Run the demo on the global reactor; returns the exit status."""
    import sys

    sys.stdout.reconfigure(line_buffering=True)
    from pserv.scripts.support import run_on_reactor
    from pserv.scripts.cluster import install_reactor

    install_reactor()
    return run_on_reactor(lambda reactor: Demo(reactor, options, print).run())


class Demo:
    """The demo's parts, started and stopped in order."""

    def __init__(self, reactor: Any, options: DemoOptions, say: Callable[[str], None]) -> None:
        self.reactor, self.options, self.say = reactor, options, say
        self.data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="pserv-demo-"))
        self.password = secrets.token_hex(8)
        self.stops: list[Callable[[], Any]] = []
        self.stopped: Deferred[None] = Deferred()

    async def run(self) -> int:
        try:
            token = await self.start()
            if self.options.tour:
                await self.tour(token)
            if self.options.stay:
                self.say("pserv demo: serving until interrupted (Ctrl-C)")
                await self._interrupted()
        finally:
            try:
                await self.stop()
            finally:
                self.stopped.callback(None)
        return 0

    async def start(self) -> str:
        """Start everything; the API token."""
        from pserv.region.config import RegionConfig
        from pserv.region.service import Region

        config = RegionConfig(data_dir=self.data_dir, listen=self.options.listen, rpc_listen=self.options.rpc_listen)
        token = _token(config)
        self.user, self.user_password = _user(config)
        ports = await self._start_bmcs()
        pdu = self._start_pdu()
        region = Region(config, self.reactor)
        region.start()
        self.stops.append(region.stop)
        await self._start_cluster(config, region.rpc_port.getHost().port)
        await self._register(region, ports, pdu)
        self.url = "http://{0.host}:{0.port}".format(region.port.getHost())
        self.say(f"pserv demo: region at {self.url} (data in {self.data_dir})")
        self.say(f"pserv demo: token {token}")
        self.say(f"pserv demo: UI user {self.user} password {self.user_password} (log in at {self.url}/login)")
        self.say(f"pserv demo: try  pserv login {self.url} {token} && pserv nodes list")
        return token

    async def _start_bmcs(self) -> list[int]:
        from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs

        bmcs = PyghmiBMCs(self.reactor, self.options.nodes + self.options.spare_bmcs, BMC_USERNAME, self.password)
        started = await bmcs.start()
        self.stops.append(bmcs.stop)
        ports, spare = started[:self.options.nodes], started[self.options.nodes:]
        self.say(f"pserv demo: {len(ports)} emulated IPMI BMCs on 127.0.0.1 ports {ports}")
        if spare:
            self.say(f"pserv demo: {len(spare)} spare emulated IPMI BMCs, not enrolled, on 127.0.0.1 ports {spare}, "
                     f"username {BMC_USERNAME} password {self.password} "
                     "(the demo's own throwaway emulator credentials, for adding a node by hand)")
        return ports

    def _start_pdu(self) -> Any:
        from pserv.testing.emulators import snmp_pdu

        missing = snmp_pdu.missing_tools()
        if missing:
            self.say(f"pserv demo: no emulated PDU ({', '.join(missing)} not installed)")
            return None
        (self.data_dir / "pdu").mkdir(exist_ok=True)
        pdu = snmp_pdu.SNMPPDUEmulator(self.data_dir / "pdu")
        pdu.start()
        self.stops.append(pdu.stop)
        self.say(f"pserv demo: emulated APC rack PDU (snmpd) on 127.0.0.1 port {pdu.port}")
        return pdu

    async def _start_cluster(self, config: Any, port: int) -> None:
        from pserv.cluster.daemon import ClusterDaemon
        from pserv.cluster.driver_set import DriverSet
        from pserv.rpc.auth import load_secret
        from pserv.rpc.service import RegionConnection

        daemon = ClusterDaemon(self.reactor, DriverSet(self.reactor), interval=30)
        connection = RegionConnection.to_region(
            self.reactor, f"127.0.0.1:{port}", DEMO_CLUSTER, load_secret(config.secret_path),
            daemon, daemon.region_ready,
        )
        connection.startService()
        self.stops.extend([daemon.stop, connection.stopService])
        await connection.when_ready()
        self.say(f"pserv demo: cluster {DEMO_CLUSTER} connected over TLS")

    async def _register(self, region: Any, ports: list[int], pdu: Any) -> None:
        from pserv.region.store.nodes import create_node

        for number, port in enumerate(ports, 1):
            parameters = {"address": "127.0.0.1", "port": port, "username": BMC_USERNAME, "password": self.password}
            await region.database.run(create_node, _node(f"ipmi-{number}", "ipmi", parameters), region.api.now())
        if pdu is not None:
            from pserv.testing.emulators.snmp_pdu import READ_COMMUNITY, WRITE_COMMUNITY

            for outlet in (1, 2):
                parameters = {"address": "127.0.0.1", "port": pdu.port, "vendor": "auto", "outlet": outlet,
                              "version": "2c", "community": READ_COMMUNITY, "write_community": WRITE_COMMUNITY}
                await region.database.run(create_node, _node(f"pdu-outlet-{outlet}", "snmp_pdu", parameters),
                                          region.api.now())

    async def tour(self, token: str) -> None:
        """Everything on, then one node cycled, each waited for through the API."""
        from pserv.client.http import ApiClient

        api = ApiClient(self.url, token, self.reactor)
        names = [node["name"] for node in (await api.get("/api/v1/nodes")).body["items"]]
        self.say(f"pserv demo: power on {', '.join(names)}")
        bulk = await api.post("/api/v1/power", {"action": "on", "nodes": names})
        await self._wait(api, bulk.body["actions"])
        self.say(f"pserv demo: power cycle {names[0]}")
        cycle = await api.post(f"/api/v1/nodes/{names[0]}/power", {"action": "cycle"})
        await self._wait(api, [cycle.body])
        for event in (await api.get("/api/v1/events", {"node": names[0]})).body["items"]:
            self.say(f"  {event['at']}  {event['kind']:<16} {event['message']}")
        await self._log_in()

    async def _log_in(self) -> None:
        """Log in to the UI as the demo's user, as a browser would."""
        import treq

        form = {"name": self.user, "password": self.user_password}
        response = await treq.post(f"{self.url}/login", data=form, allow_redirects=False)
        await response.content()
        cookies = response.headers.getRawHeaders("set-cookie") or []
        outcome = "logged in" if response.code == 303 and cookies else f"login refused ({response.code})"
        self.say(f"pserv demo: UI {outcome} as {self.user}")

    async def _wait(self, api: Any, actions: list[dict[str, Any]]) -> None:
        from pserv.client.wait import wait_for_actions

        result = await wait_for_actions(api, actions, self.reactor, timeout=120, report=lambda _: None)
        for action in result.actions:
            self.say(f"  action {action['id']} {action['kind']}: {action['status']}, power {action['power_state']}"
                     + (f" ({action['error']})" if action["error"] else ""))

    def _interrupted(self) -> Deferred[None]:
        """
        Fires when the reactor starts to shut down (Ctrl-C, SIGTERM), which
        then waits for :attr:`stopped`: the parts stop while it still runs.
        """
        interrupted: Deferred[None] = Deferred()

        def shutting_down() -> Deferred[None]:
            interrupted.callback(None)
            return self.stopped

        self.reactor.addSystemEventTrigger("before", "shutdown", shutting_down)
        return interrupted

    async def stop(self) -> None:
        """Stop everything started, newest first."""
        for stop in reversed(self.stops):
            result = stop()
            if isinstance(result, Deferred) or inspect.isawaitable(result):
                await result
        self.stops = []


def _token(config: Any) -> str:
    from datetime import datetime, timezone

    from pserv.region.db import Database, make_engine
    from pserv.region.service import initialize
    from pserv.region.store.tokens import create_token

    token = initialize(config)
    if token is not None:
        return token
    database = Database(make_engine(config.database_url), reactor=None)
    try:
        name = f"demo-{secrets.token_hex(3)}"
        return database.run_now(create_token, name, datetime.now(timezone.utc).replace(tzinfo=None))
    finally:
        database.engine.dispose()


def _user(config: Any) -> tuple[str, str]:
    """A new admin user of the UI (``admin``, or ``admin-XXXXXX`` if taken) and its password."""
    from pserv.region.errors import Conflict
    from pserv.region.passwords import hash_password
    from pserv.region.roles import Role
    from pserv.region.service import add_user

    password = secrets.token_urlsafe(12)
    password_hash = hash_password(password)
    for name in ("admin", f"admin-{secrets.token_hex(3)}"):
        try:
            add_user(config, name, password_hash, Role.ADMIN)
            return name, password
        except Conflict:
            continue
    raise RuntimeError("no free name for the demo's user")


def _node(name: str, power_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "cluster": DEMO_CLUSTER, "power_type": power_type, "power_parameters": parameters}
