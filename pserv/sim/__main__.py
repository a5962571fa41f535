"""``python -m pserv.sim``; see :mod:`pserv.scripts.sim`."""

import sys

from pserv.scripts.sim import main

sys.exit(main())
