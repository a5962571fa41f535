"""
A node's intent when an operator withdraws a request by cancelling it.

Every power request records, on its action, the desired state it replaced
(``desired_before``).  A request is *withdrawn* when an operator asked to
cancel its action (``cancel_requested``) and the action ended without being
done.  The node's desired state is then that of its newest request that was
not withdrawn: the ``desired_before`` of the oldest of the withdrawn
requests that follow it, which is ``unknown`` (no intent) if every request
was withdrawn.  Nothing else changes: the generation only ever counts up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, not_, select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.states import FINAL, ActionKind, ActionStatus, values
from pserv.region import schema
from pserv.region.store.common import add_event, utc

_ACTIONS = schema.power_actions

WITHDRAWN: ColumnElement[bool] = and_(
    _ACTIONS.c.cancel_requested,
    _ACTIONS.c.status.in_(values(FINAL - {ActionStatus.DONE})),
)
"""An action whose request an operator withdrew: asked to cancel, and ended without being done."""


def settle_intent(connection: Connection, node: Row, ended: Row, now: datetime) -> str | None:
    """
    Give the locked ``node`` the desired state of its newest request not
    withdrawn, if withdrawals changed it; see the module's rule.  A
    cancelled request older than one still standing changes nothing.

    :param ended: the cancelled action that has just ended, for the event.
    :return: the desired state given back, or ``None`` if it stays.
    """
    power = and_(_ACTIONS.c.node_id == node.id, _ACTIONS.c.kind != ActionKind.QUERY.value)
    standing = connection.execute(select(func.max(_ACTIONS.c.id)).where(power, not_(WITHDRAWN))).scalar()
    after = power if standing is None else and_(power, _ACTIONS.c.id > standing)
    oldest = connection.execute(select(_ACTIONS).where(after).order_by(_ACTIONS.c.id).limit(1)).first()
    if oldest is None or oldest.desired_before in (None, node.desired_power_state):
        return None
    restored = oldest.desired_before
    connection.execute(
        update(schema.nodes).where(schema.nodes.c.id == node.id).values(
            desired_power_state=restored, updated_at=utc(now)
        )
    )
    add_event(
        connection, now, "intent_withdrawn",
        f"{ended.kind} action {ended.id} withdrawn: desired power back to {restored} "
        f"(was {node.desired_power_state})", node, ended.id,
    )
    return restored
