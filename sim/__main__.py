"""``python -m sim``: the same as the ``svcsim`` command."""

import sys

from sim.cli import main

sys.exit(main())
