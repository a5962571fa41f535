"""
The nodes a cluster owns, as the region last described them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from pserv.rpc.messages import PowerRequest, RecoveryNode


@dataclass(frozen=True, slots=True)
class OwnedNode:
    """
    One node: its id, name, power settings (secrets included), and the
    epoch the region handed it over in (observations carry it).
    """

    id: int
    name: str
    power_type: str
    power_parameters: Mapping[str, Any]
    epoch: int = 0


class NodeBook:
    """
    The cluster's nodes, replaced by each recovery and updated by each
    power request (which carries the node's current settings).
    """

    def __init__(self) -> None:
        self._nodes: dict[int, OwnedNode] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[OwnedNode]:
        return iter(list(self._nodes.values()))

    def get(self, node: int) -> OwnedNode | None:
        """The node ``node``, if this cluster owns it."""
        return self._nodes.get(node)

    def replace(self, entries: Sequence[RecoveryNode]) -> None:
        """Own exactly the nodes of a recovery answer."""
        self._nodes = {e.node: _node_from(e) for e in entries}

    def remember(self, request: PowerRequest) -> None:
        """Own, or update, the node a power request names."""
        node = _node_from(request)
        self._nodes[node.id] = node

    def forget(self, node: int) -> None:
        """Own ``node`` no more (it moved to another cluster)."""
        self._nodes.pop(node, None)


def _node_from(entry: RecoveryNode | PowerRequest) -> OwnedNode:
    return OwnedNode(
        id=entry.node, name=entry.name, power_type=entry.power_type,
        power_parameters=dict(entry.power_parameters), epoch=entry.epoch,
    )
