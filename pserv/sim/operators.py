"""
Operators: HTTP clients of the region's REST API over the simulated
network, with the same treq calls a script would make.  With several
regions, each call goes to one of them, as through a load balancer.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import treq
from treq.client import HTTPClient
from twisted.internet.defer import Deferred, succeed
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IAgentEndpointFactory, IBodyProducer
from zope.interface import implementer

from pserv.sim.network import SimNetwork
from pserv.sim.process import Process
from pserv.sim.processes import HTTP


@implementer(IBodyProducer)
class BytesBody:
    """A request body written at once (no cooperator, so no global reactor)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@implementer(IAgentEndpointFactory)
class _ToRegion:
    def __init__(self, network: SimNetwork, process: Process) -> None:
        self.network = network
        self.process = process

    def endpointForURI(self, uri: Any) -> Any:
        return self.network.endpoint(f"{uri.host.decode()}:{uri.port}", self.process)


class Operator:
    """
    Someone with a token, calling the API.

    :param region: the API address to call next (``HOST:PORT``), by
        default the one region's.
    :ivar process: the operator's machine (it never crashes).
    """

    def __init__(self, network: SimNetwork, clock: Any, token: str,
                 region: Callable[[], str] = lambda: HTTP) -> None:
        self.region = region
        self.process = Process("operator", "10.0.2.1", clock)
        pool = HTTPConnectionPool(self.process.clock, persistent=False)
        agent = Agent.usingEndpointFactory(self.process.clock, _ToRegion(network, self.process), pool=pool)
        self.http = HTTPClient(agent, data_to_body_producer=BytesBody)
        self.headers = {"Authorization": [f"Bearer {token}"]}

    async def call(self, method: str, path: str, body: Any = None, region: str | None = None) -> tuple[int, Any]:
        """
        One API call (to ``region``, or where :attr:`region` says): its status and JSON body.

        :raises Exception: when the connection fails or drops (no answer).
        """
        kwargs: dict[str, Any] = {"headers": self.headers}
        if body is not None:
            kwargs["json"] = body
        address = region if region is not None else self.region()
        response = await self.http.request(method, f"http://{address}{path}", **kwargs)
        content = await treq.content(response)
        return response.code, json.loads(content) if content else None
