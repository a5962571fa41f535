"""
The Redfish power driver: a node's ComputerSystem, switched by
``ComputerSystem.Reset`` and read from ``PowerState``.

One driver serves every Redfish node of a cluster.  It caches, per BMC and
``system_id``, where the system and its reset action are, and shares one
connection pool, and at most one session per BMC and user, among its nodes.
It sends single commands and single reads: verification and retrying a
command belong to the actions above it.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.drivers.base import PowerDriver
from pserv.power.drivers.redfish.boot import boot_override, boot_patch
from pserv.power.drivers.redfish.client import Node, RedfishClient
from pserv.power.drivers.redfish.discovery import (
    SystemInfo,
    choose_reset_type,
    discover,
    power_state,
)
from pserv.power.drivers.redfish.http import RedfishHttp
from pserv.power.drivers.redfish.retry import DEFAULT_BACKOFF, DEFAULT_RETRIES
from pserv.power.drivers.redfish.session import Credentials
from pserv.power.errors import PowerSettingsError, PowerTransientError
from pserv.power.policy import VerifyPolicy
from pserv.power.states import PowerState
from pserv.power.types import redfish as redfish_type
from pserv.power.types.redfish import REDFISH
from pserv.util.backoff import Backoff

Work = Callable[[Node], Awaitable[Any]]


class RedfishDriver(PowerDriver):
    """
    Power through a Redfish BMC.

    :param clock: times each HTTP exchange out; the reactor if omitted.
    :param request_timeout: seconds one HTTP exchange may take.
    :param retry_backoff: the wait before retry ``n`` (from zero) of a
        request a busy BMC refused.
    :param retries: the most times such a request is sent again.
    :param per_bmc: the most requests in flight to one BMC at a time.
    """

    power_type = REDFISH
    verify_policy = VerifyPolicy(read_timeout=20.0)
    """A first read discovers (root, collection, system, maybe a login): on a
    slow BMC that is several round trips, each bounded by ``request_timeout``."""

    def __init__(
        self,
        reactor: Any = None,
        *,
        clock: IReactorTime | None = None,
        request_timeout: float = 10.0,
        retry_backoff: Backoff = DEFAULT_BACKOFF,
        retries: int = DEFAULT_RETRIES,
        per_bmc: int = 2,
    ) -> None:
        super().__init__(reactor)
        self._clock = clock
        self.request_timeout = request_timeout
        self.retry_backoff = retry_backoff
        self.retries = retries
        self.per_bmc = per_bmc
        self._client: RedfishClient | None = None
        self._systems: dict[tuple, SystemInfo] = {}

    @property
    def client(self) -> RedfishClient:
        """The HTTP client, made on first use on :attr:`reactor`."""
        if self._client is None:
            http = RedfishHttp(
                self.reactor, timeout=self.request_timeout, per_bmc=self.per_bmc, clock=self._clock
            )
            self._client = RedfishClient(http, self.reactor, self.retry_backoff, self.retries)
        return self._client

    def query(self, params: Mapping[str, Any]) -> Deferred[PowerState]:
        """Read the system's ``PowerState``: ``ON`` or ``OFF``."""
        return self._run(params, "query", self._query, self.policy(params).read_timeout)

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Send ``ComputerSystem.Reset`` with ``On`` (or ``ForceOn``)."""
        return self._command(params, "power on", "On")

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Send ``ComputerSystem.Reset`` with ``ForceOff``."""
        return self._command(params, "power off", "ForceOff")

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        """Send ``ComputerSystem.Reset`` with ``GracefulShutdown``."""
        return self._command(params, "soft off", "GracefulShutdown")

    def open_sessions(self) -> int:
        """How many Redfish sessions are live now, over every BMC: the cluster's metrics."""
        return 0 if self._client is None else self._client.sessions.open_count()

    def set_boot_device(self, params: Mapping[str, Any], device: BootDevice, persistent: bool) -> Deferred[None]:
        """PATCH the system's ``Boot``: ``BootSourceOverrideTarget`` and ``BootSourceOverrideEnabled``."""
        async def patch(node: Node) -> None:
            info = await self._system(node)
            await self.client.call(node, "PATCH", info.path, boot_patch(device, persistent),
                                   not_found_field="system_id")

        return self._run(params, "set boot device", patch, self.policy(params).command_timeout)

    def get_boot_device(self, params: Mapping[str, Any]) -> Deferred[BootSetting | None]:
        """GET the system and read its boot override; ``None`` if it has none."""
        async def read(node: Node) -> BootSetting | None:
            info = await self._system(node)
            return boot_override(await self.client.get(node, info.path, not_found_field="system_id"))

        return self._run(params, "get boot device", read, self.policy(params).read_timeout)

    def close(self) -> Deferred[None]:
        """
        Delete any sessions and close every connection; for shutdown.
        """
        client, self._client = self._client, None
        self._systems.clear()
        return client.close() if client is not None else succeed(None)

    def _command(self, params: Mapping[str, Any], what: str, reset_type: str) -> Deferred[None]:
        async def reset(node: Node) -> None:
            await self._reset(node, reset_type)

        return self._run(params, what, reset, self.policy(params).command_timeout)

    def _run(self, params: Mapping[str, Any], what: str, work: Work, timeout: float) -> Deferred[Any]:
        label = self.describe(params)

        async def run() -> Any:
            return await work(self._node(params))

        def timed_out(result: Any, seconds: float) -> Any:
            if isinstance(result, Failure) and result.check(CancelledError):
                return Failure(PowerTransientError(f"{label}: {what} took over {seconds:g}s"))
            return result

        done = Deferred.fromCoroutine(run())
        return done.addTimeout(timeout, self.reactor, onTimeoutCancel=timed_out)

    async def _query(self, node: Node) -> PowerState:
        key = _cache_key(node)
        info = self._systems.get(key)
        if info is not None:
            try:
                document = await self.client.get(node, info.path, not_found_field="system_id")
                return power_state(document, node.label)
            except PowerSettingsError:
                self._systems.pop(key, None)
        info, document = await self._discover(node)
        return power_state(document, node.label)

    async def _reset(self, node: Node, wanted: str) -> None:
        info = self._systems.get(_cache_key(node))
        cached = info is not None
        if info is None:
            info, _ = await self._discover(node)
        try:
            await self._post_reset(node, info, wanted)
        except PowerSettingsError:
            if not cached:
                raise
            # A 404 means the BMC did not act: find the system again, send once more.
            self._systems.pop(_cache_key(node), None)
            info, _ = await self._discover(node)
            await self._post_reset(node, info, wanted)

    async def _post_reset(self, node: Node, info: SystemInfo, wanted: str) -> None:
        body = {"ResetType": choose_reset_type(wanted, info, node.label)}
        await self.client.call(node, "POST", info.reset_target, body, not_found_field="system_id")

    async def _system(self, node: Node) -> SystemInfo:
        """Where the node's system is: cached, or discovered."""
        info = self._systems.get(_cache_key(node))
        if info is None:
            info, _ = await self._discover(node)
        return info

    async def _discover(self, node: Node) -> tuple[SystemInfo, dict[str, Any]]:
        info, document = await discover(self.client, node)
        self._systems[_cache_key(node)] = info
        return info, document

    def _node(self, params: Mapping[str, Any]) -> Node:
        endpoint, system_id = redfish_type.endpoint(params), redfish_type.system_id(params)
        creds = Credentials(params.get("username") or None, params.get("password"))
        return Node(endpoint, creds, system_id, self.describe(params))


def _cache_key(node: Node) -> tuple:
    return (node.endpoint.origin, node.system_id)
