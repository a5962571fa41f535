"""
Nodes: enrolment, settings, listing and deletion.

Power settings are validated by the node's power type
(:mod:`pserv.power.types`: schemas as data, no driver code); secret values
are stored apart (``power_secrets``) and come back from here only as
``"set"``.  The power types a node may have are the production ones unless
the caller passes others (tests and the simulation add ``fake``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import ColumnElement, bindparam, delete, false, func, select, update
from sqlalchemy.engine import Connection, Row

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import REDACTED
from pserv.power.states import IN_FLIGHT, ActionStatus, PowerState, values
from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.region import schema
from pserv.region.errors import Conflict, Invalid, NotFound, PreconditionFailed
from pserv.region.store.common import MAX_ID, add_event, chunks, insert_returning_id, iso, one_row, page, utc
from pserv.region.store.moves import move_to
from pserv.region.store.transitions import move

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def node_json(row: Row) -> dict[str, Any]:
    """A node as the API shows it: secrets that are set show as ``"set"``."""
    parameters = dict(row.power_parameters)
    parameters.update({name: REDACTED for name, value in row.power_secrets.items() if value})
    return {
        "id": row.id,
        "name": row.name,
        "group": row.group,
        "cluster": row.cluster,
        "moving_from": row.moving_from,
        "power_type": row.power_type,
        "power_parameters": parameters,
        "desired_power_state": row.desired_power_state,
        "power_state": row.power_state,
        "power_state_observed_at": iso(row.power_state_observed_at),
        "power_error": row.power_error,
        "generation": row.generation,
        "version": row.version,
        "lifecycle": row.lifecycle,
        "drift_policy": row.drift_policy,
        "locked": bool(row.locked),
        "locked_by": row.locked_by,
        "lock_reason": row.lock_reason,
        "locked_at": iso(row.locked_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def find(connection: Connection, ref: str | int, lock: bool = False) -> Row:
    """
    The node whose id (digits) or name is ``ref``.

    :raises NotFound: when there is none.
    """
    table = schema.nodes
    text = str(ref)
    if text.isascii() and text.isdigit():
        query = select(table).where(table.c.id == int(text) if int(text) <= MAX_ID else false())
    else:
        query = select(table).where(table.c.name == text if _storable(text) else false())
    return one_row(connection, query, f"no node {text!r}", "node", lock)


def find_ids(connection: Connection, refs: Iterable[str | int]) -> set[int]:
    """
    The ids of the nodes ``refs`` name, as :func:`find` reads each (id or
    name), in a query per :data:`~pserv.region.store.common.CHUNK` ids and
    per as many names.

    :raises NotFound: as :func:`find`, for the first ref that names no node.
    """
    table = schema.nodes
    texts = [str(ref) for ref in refs]
    ids = sorted({int(t) for t in texts if _is_id(t) and int(t) <= MAX_ID})
    names = sorted({t for t in texts if not _is_id(t) and _storable(t)})
    known = {i for chunk in chunks(ids) for i in connection.execute(select(table.c.id).where(table.c.id.in_(chunk)))
             .scalars()}
    by_name = {row.name: row.id for chunk in chunks(names)
               for row in connection.execute(select(table.c.id, table.c.name).where(table.c.name.in_(chunk)))}
    found = {t: ((int(t) if int(t) in known else None) if _is_id(t) else by_name.get(t)) for t in texts}
    missing = next((t for t, i in found.items() if i is None), None)
    if missing is not None:
        raise NotFound(f"no node {missing!r}", "node")
    return {i for i in found.values() if i is not None}


def find_rows(connection: Connection, ids: Iterable[int], lock: bool = False) -> list[Row]:
    """
    The nodes ``ids``, in id order, locked for update if ``lock`` (a
    ``SELECT ... FOR UPDATE`` per :data:`~pserv.region.store.common.CHUNK`
    ids, taken in id order, as every transaction that locks several nodes
    takes them).

    :raises NotFound: as :func:`find`, for the first id (in order) of no node.
    """
    table = schema.nodes
    wanted = sorted(set(ids))
    rows: list[Row] = []
    for chunk in chunks(wanted):
        query = select(table).where(table.c.id.in_([i for i in chunk if i <= MAX_ID])).order_by(table.c.id)
        rows += connection.execute(query.with_for_update() if lock else query).all()
    present = {row.id for row in rows}
    missing = next((i for i in wanted if i not in present), None)
    if missing is not None:
        raise NotFound(f"no node {str(missing)!r}", "node")
    return rows


def _is_id(text: str) -> bool:
    """Whether ``text`` names a node by id (digits), as :func:`find` reads it."""
    return text.isascii() and text.isdigit()

_INTENT_COLUMNS = [schema.nodes.c[name] for name in ("id", "name", "lifecycle", "generation", "desired_power_state",
                                                         "power_type", "locked", "locked_by", "lock_reason")]
_LOCK_BY_ID = select(*_INTENT_COLUMNS).where(schema.nodes.c.id == bindparam("ref")).with_for_update()
_LOCK_BY_NAME = select(*_INTENT_COLUMNS).where(schema.nodes.c.name == bindparam("ref")).with_for_update()


def lock_for_intent(connection: Connection, ref: str | int) -> Row:
    """
    The node ``ref`` names, found as :func:`find` finds it, locked for
    update, with only what a power request reads of it: ``id``, ``name``,
    ``lifecycle``, ``generation``, ``desired_power_state``, ``power_type``
    (whether it can set a boot device) and its lock (``locked``,
    ``locked_by``, ``lock_reason``).  Its
    statements are built once: this is every power request's first read.

    :raises NotFound: when there is none.
    """
    text = str(ref)
    if text.isascii() and text.isdigit():
        row = connection.execute(_LOCK_BY_ID, {"ref": int(text)}).first() if int(text) <= MAX_ID else None
    else:
        row = connection.execute(_LOCK_BY_NAME, {"ref": text}).first() if _storable(text) else None
    if row is None:
        raise NotFound(f"no node {text!r}", "node")
    return row


def get_node(connection: Connection, ref: str | int) -> dict[str, Any]:
    """The node ``ref`` (id or name)."""
    return node_json(find(connection, ref))


def create_node(
    connection: Connection, body: Mapping[str, Any], now: datetime, *, power_types: PowerTypes = POWER_TYPES
) -> dict[str, Any]:
    """
    Enrol a node from an API body (already checked for shape).

    :param power_types: the power types the node may have.
    :raises Invalid: naming the bad field.
    :raises Conflict: if the name is taken.
    """
    name = _check_name(body["name"])
    _check_name_free(connection, name)
    group = _check_group(body.get("group"), body.get("cluster"))
    cluster = _check_cluster(body.get("cluster"))
    raw = body.get("power_parameters")
    parameters, secrets = split_settings(power_types, body["power_type"], {} if raw is None else raw)
    node_id = insert_returning_id(
        connection, schema.nodes,
        name=name, group=group, cluster=cluster, power_type=body["power_type"],
        power_parameters=parameters, power_secrets=secrets,
        desired_power_state=PowerState.UNKNOWN.value, power_state=PowerState.UNKNOWN.value,
        generation=0, lifecycle="ready", created_at=utc(now), updated_at=utc(now),
        drift_policy=body.get("drift_policy", "observe"),
    )
    row = find(connection, node_id)
    add_event(connection, now, "node_created", f"node {name} enrolled ({row.power_type})", row)
    return node_json(row)


def update_node(
    connection: Connection, ref: str | int, body: Mapping[str, Any], now: datetime,
    *, power_types: PowerTypes = POWER_TYPES, expected_version: int | None = None,
) -> dict[str, Any]:
    """
    Change a node's name, group, cluster, power type or power settings,
    counting its version up if anything changed.  A secret sent as
    ``"set"``, or left out, keeps its stored value.  A change of cluster is
    a move (:mod:`pserv.region.store.moves`): refused while an action is in
    flight, and handed over once the old cluster gives the node up.  A
    node of a group is moved by its group's spread alone
    (:mod:`pserv.region.store.groups`), so it takes no ``cluster``; one that
    leaves its group stays with the member that holds it.

    :param power_types: the power types the node may have.
    :param expected_version: the version the change was made from (the
        API's ``If-Match``); ``None`` changes whatever version is current.
    :raises PreconditionFailed: the node is no longer at ``expected_version``.
    """
    row = find(connection, ref, lock=True)
    if expected_version is not None and expected_version != row.version:
        raise PreconditionFailed(
            f"node {row.name} changed since version {expected_version} was read (now {row.version})", "If-Match"
        )
    if row.lifecycle == "deleting":
        raise Conflict(f"node {row.name} is being deleted", "node")
    values: dict[str, Any] = {}
    if "name" in body and body["name"] != row.name:
        values["name"] = _check_name(body["name"])
        _check_name_free(connection, values["name"])
    if row.group is not None and "group" not in body and body.get("cluster") not in (None, ""):
        raise Conflict(f"node {row.name} is in group {row.group}, which gives it to a member: "
                       "leave the group (group null) to name a cluster", "cluster")
    group = _check_group(body.get("group", row.group), body.get("cluster"))
    if group != row.group:
        values["group"] = group
    if group is None and "cluster" in body and (cluster := _check_cluster(body["cluster"])) != row.cluster:
        values.update(move_to(connection, row, cluster, now))
    if "drift_policy" in body:
        values["drift_policy"] = body["drift_policy"]
    if "power_type" in body or "power_parameters" in body:
        power_type = body.get("power_type", row.power_type)
        raw = body.get("power_parameters", row.power_parameters)
        values["power_type"] = power_type
        values["power_parameters"], values["power_secrets"] = _keeping_secrets(power_types, power_type, raw, row)
    if values:
        changed = ", ".join(sorted(k for k in values if k != "power_secrets"))
        values.update(updated_at=utc(now), version=row.version + 1)
        connection.execute(update(schema.nodes).where(schema.nodes.c.id == row.id).values(**values))
        add_event(connection, now, "node_updated", f"node {row.name} updated: {changed}", row)
    return node_json(find(connection, row.id))


def delete_node(connection: Connection, ref: str | int, now: datetime) -> dict[str, Any] | None:
    """
    Delete a node.  Its pending actions are cancelled.  If an action is in
    flight, the node is marked ``deleting`` and that action asked to stop;
    the node is then returned and goes once the action ends.  Otherwise the
    node is gone and ``None`` is returned.
    """
    row = find(connection, ref, lock=True)
    actions = schema.power_actions
    pending = connection.execute(
        select(actions.c.id).where(actions.c.node_id == row.id, actions.c.status == ActionStatus.PENDING.value)
    ).scalars().all()
    for action_id in move(connection, pending, ActionStatus.CANCELLED, now, only_from={ActionStatus.PENDING}):
        add_event(connection, now, "action_cancelled", f"action {action_id} cancelled: node deleted", row, action_id)
    in_flight = connection.execute(
        select(actions.c.id).where(actions.c.node_id == row.id, actions.c.status.in_(values(IN_FLIGHT)))
    ).scalars().all()
    if in_flight:
        connection.execute(update(actions).where(actions.c.id.in_(in_flight)).values(cancel_requested=True))
        connection.execute(
            update(schema.nodes).where(schema.nodes.c.id == row.id).values(lifecycle="deleting", updated_at=utc(now))
        )
        add_event(connection, now, "node_deleting", f"node {row.name} deleting once its action stops", row)
        return node_json(find(connection, row.id))
    connection.execute(delete(actions).where(actions.c.node_id == row.id))
    connection.execute(delete(schema.nodes).where(schema.nodes.c.id == row.id))
    add_event(connection, now, "node_deleted", f"node {row.name} deleted", row)
    return None


def list_nodes(
    connection: Connection, filters: Mapping[str, str], limit: int, after: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """
    A page of nodes in id order, filtered by ``cluster``, ``power_state``
    and ``desired_power_state``; returns the items and the next cursor.
    """
    table = schema.nodes
    query = select(table).where(*node_filter(filters)).order_by(table.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(table.c.id > after)
    return page(connection.execute(query).all(), limit, node_json)


NODE_FILTERS = ("group", "cluster", "power_type", "power_state", "desired_power_state", "q")
"""What nodes can be filtered by: the API's listing and bulk power, and the UI's nodes page."""


def node_filter(filters: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """
    The conditions a node meets to match ``filters`` (names from
    :data:`NODE_FILTERS`): equal fields, and for ``q`` a name holding the
    text, case ignored.  A value no node could hold matches nothing.
    """
    table = schema.nodes
    conditions: list[ColumnElement[bool]] = []
    for name, value in filters.items():
        if name not in NODE_FILTERS:
            raise Invalid(f"filter: no filter {name!r}", "filter")
        if name == "q":
            pattern = "%" + value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(func.lower(table.c.name).like(pattern, escape="\\") if "\x00" not in value else false())
        elif name in ("group", "cluster") and not _storable(value):
            conditions.append(false())
        else:
            conditions.append(table.c[name] == value if "\x00" not in value else false())
    return conditions


def power_settings(connection: Connection, ref: str | int) -> tuple[str, dict[str, Any]]:
    """
    A node's power type and full settings, secrets included: only for the
    cluster that drives it, never for the API.
    """
    row = find(connection, ref)
    return row.power_type, {**row.power_parameters, **row.power_secrets}


def split_settings(power_types: PowerTypes, power_type: Any, raw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """
    Validate settings with their power type's schema and checks; return
    (plain, secrets).

    :param power_types: the power types a node may have.
    :raises Invalid: naming the field (``power_type`` or the setting).
    """
    if not isinstance(raw, Mapping):
        raise Invalid("power_parameters: must be an object", "power_parameters")
    try:
        kind = power_types.find(power_type)
        cleaned = kind.validate(raw)
    except PowerSettingsError as e:
        raise Invalid(str(e), e.field or "power_parameters") from None
    secrets = kind.settings.secrets(cleaned)
    plain = {k: v for k, v in cleaned.items() if k not in secrets}
    return plain, {k: v for k, v in secrets.items() if v not in (None, "")}


def _keeping_secrets(power_types: PowerTypes, power_type: Any, raw: Any, row: Row) -> tuple[dict, dict]:
    """
    :func:`split_settings` of a change: each secret of ``power_type`` sent
    as ``"set"`` or left out keeps the stored value.  When a kept value (or
    the lack of one) makes the settings invalid, the node's state is to
    blame: 409 naming the setting.
    """
    if not isinstance(raw, Mapping) or not isinstance(power_type, str) or power_type not in power_types:
        return split_settings(power_types, power_type, raw)
    secrets = {s.name for s in power_types[power_type].settings if s.secret}
    kept = {k for k in secrets if raw.get(k) in (None, REDACTED)}
    merged = {k: v for k, v in raw.items() if k not in kept}
    merged.update({k: row.power_secrets[k] for k in kept if row.power_secrets.get(k)})
    try:
        return split_settings(power_types, power_type, merged)
    except Invalid as e:
        if e.field in kept:
            raise Conflict(f"{e.message}; the node's stored value was kept (none was sent)", e.field) from None
        raise


def _storable(text: str) -> bool:
    """Whether ``text`` can be a name or a cluster: nothing else matches one
    (and PostgreSQL refuses some text, such as NUL, in a comparison)."""
    return bool(NAME.fullmatch(text))


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.isdigit():
        raise Invalid(
            "name: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, not all digits",
            "name",
        )
    return name


def _check_name_free(connection: Connection, name: str) -> None:
    taken = connection.execute(select(schema.nodes.c.id).where(schema.nodes.c.name == name)).first()
    if taken is not None:
        raise Conflict(f"name: a node named {name!r} exists", "name")


def _check_group(group: Any, cluster: Any) -> str | None:
    """A node's group, checked with the ``cluster`` given beside it (a node of a group takes none)."""
    if group in (None, ""):
        return None
    if not isinstance(group, str) or not NAME.fullmatch(group):
        raise Invalid("group: must be a group name", "group")
    if cluster not in (None, ""):
        raise Invalid("cluster: a node of a group is given to a member by the region; give a group or a "
                      "cluster, not both", "cluster")
    return group


def _check_cluster(cluster: Any) -> str | None:
    if cluster in (None, ""):
        return None
    if not isinstance(cluster, str) or not NAME.fullmatch(cluster):
        raise Invalid("cluster: must be a cluster name", "cluster")
    return cluster
