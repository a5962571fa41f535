"""
Several addresses of the region, tried in turn: how a cluster given more
than one region (regions sharing one database) connects.

Each connection attempt tries the addresses one after another, starting
with the one that answered last, and fails only when none answers, so a
dead region costs a cluster one refused connection (or one connect
timeout), not a backoff; the caller's backoff counts attempts in which no
region answered.
"""

from __future__ import annotations

from typing import Any, Sequence

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()


@implementer(IStreamClientEndpoint)
class FailoverEndpoint:
    """
    Connects through the first of ``endpoints`` that answers.

    :param endpoints: where the regions are, in the order given.
    :param names: each endpoint's address, for the log.
    """

    def __init__(self, endpoints: Sequence[IStreamClientEndpoint], names: Sequence[str]) -> None:
        if not endpoints or len(endpoints) != len(names):
            raise ValueError("FailoverEndpoint needs one name for each of at least one endpoint")
        self._endpoints = list(endpoints)
        self._names = list(names)
        self._first = 0

    @property
    def current(self) -> str:
        """The address tried first: the one that answered last (the first given, before any did)."""
        return self._names[self._first]

    def connect(self, protocolFactory: Any) -> Deferred[Protocol]:
        """Connect through each endpoint in turn until one answers; fail as the last did if none does."""
        return Deferred.fromCoroutine(self._connect(protocolFactory))

    async def _connect(self, factory: Any) -> Protocol:
        failure: BaseException | None = None
        count = len(self._endpoints)
        for offset in range(count):
            index = (self._first + offset) % count
            try:
                protocol = await self._endpoints[index].connect(factory)
            except CancelledError:
                raise
            except Exception as e:
                log.info("the region at {address} did not answer ({why})", address=self._names[index], why=e)
                failure = e
                continue
            if index != self._first:
                log.info("connected to the region at {address} instead of {previous}",
                         address=self._names[index], previous=self._names[self._first])
            self._first = index
            return protocol
        assert failure is not None
        raise failure
