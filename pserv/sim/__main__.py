"""``python -m pserv.sim``; see :mod:`pserv.sim.cli`."""

import sys

from pserv.sim.cli import main

sys.exit(main())
