"""
The command line's names for power states and power actions: the API's
vocabulary (:mod:`pserv.power.states`), an action spelled with ``-`` where
the API has ``_`` (``soft-off``).
"""

from __future__ import annotations

from pserv.power.states import ActionKind, PowerState

POWER_STATES = tuple(state.value for state in PowerState)
"""The power states a node list can be filtered by."""

POWER_ACTIONS = {kind.value.replace("_", "-"): kind for kind in ActionKind}
"""The ``pserv power`` actions, by their command-line name."""
