"""
The ``manual`` driver: a node whose power an operator switches by hand.

A command is recorded (logged, with the node's instructions) and succeeds
at once: the operator must act.  Power cannot be read, so actions through
this driver end ``done`` with power ``unknown``, and ``cycle`` is refused.
"""

from __future__ import annotations

from typing import Any, Mapping

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from pserv.power.drivers.base import PowerDriver
from pserv.power.errors import PowerUnsupportedError
from pserv.power.types.manual import MANUAL

log = Logger()


class ManualDriver(PowerDriver):
    """
    Asks an operator to switch power.
    """

    power_type = MANUAL

    def describe(self, params: Mapping[str, Any]) -> str:
        return "manual"

    def power_on(self, params: Mapping[str, Any]) -> Deferred[None]:
        return self._ask("on", params)

    def power_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        return self._ask("off", params)

    def soft_off(self, params: Mapping[str, Any]) -> Deferred[None]:
        return self._ask("off (shut down the OS first)", params)

    def query(self, params: Mapping[str, Any]) -> Deferred[Any]:
        return fail(PowerUnsupportedError("manual: power cannot be read; an operator switches it"))

    def _ask(self, what: str, params: Mapping[str, Any]) -> Deferred[None]:
        log.info(
            "Operator action needed: switch the node {what}. {instructions}",
            what=what,
            instructions=params.get("instructions") or "",
        )
        return succeed(None)
