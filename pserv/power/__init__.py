"""
Power actions, the per-node registry, and the drivers.
"""

from pserv.power.actions import (
    ACTION_CLASSES,
    CycleAction,
    OffAction,
    OnAction,
    QueryAction,
    SoftOffAction,
)
from pserv.power.control import PowerControl
from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerFatalError,
    PowerProtocolError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
    PowerVerifyError,
)
from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.policy import DEFAULT_POLICY, VerifyPolicy
from pserv.power.registry import ActionEvent, PowerActionRegistry
from pserv.power.states import ActionKind, PowerState
from pserv.power.steps import PowerAction

__all__ = [
    "ACTION_CLASSES",
    "ActionEvent",
    "ActionKind",
    "CycleAction",
    "DEFAULT_POLICY",
    "OffAction",
    "OnAction",
    "Outcome",
    "OutcomeStatus",
    "PowerAction",
    "PowerActionRegistry",
    "PowerAuthError",
    "PowerControl",
    "PowerError",
    "PowerFatalError",
    "PowerProtocolError",
    "PowerSettingsError",
    "PowerState",
    "PowerTransientError",
    "PowerUnsupportedError",
    "PowerVerifyError",
    "QueryAction",
    "SoftOffAction",
    "VerifyPolicy",
]
