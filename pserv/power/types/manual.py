"""
The ``manual`` power type: a node whose power an operator switches by hand.
"""

from __future__ import annotations

from pserv.power.settings import Setting, SettingsSchema
from pserv.power.types.base import PowerType

SETTINGS = SettingsSchema(
    Setting("instructions", "Instructions", help="where the node is, what to press"),
)
"""The ``manual`` settings."""

MANUAL = PowerType("manual", "Manual (an operator switches power)", SETTINGS, can_query=False)
"""Asks an operator to switch power; nothing reads it."""
