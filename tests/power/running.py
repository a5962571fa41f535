"""
Running power actions on a Clock against the in-memory BMC, for the
tests of :mod:`pserv.power.steps`, :mod:`pserv.power.actions`, the
registry and its cancels.
"""

from pserv.testing.power import advance_until_idle


def run(cls, bmc, clock, **kwargs):
    """Start an action and run the clock until nothing is scheduled."""
    action = cls(bmc, clock, **kwargs)
    action.start()
    advance_until_idle(clock)
    return action


def sent(bmc):
    """The commands ``bmc`` accepted, in order."""
    return [command for _, command in bmc.commands]


def results(deferreds):
    """The outcomes of ``deferreds``, in the order they fire (a list that fills as they do)."""
    fired = []
    for d in deferreds:
        d.addCallback(fired.append)
    return fired
