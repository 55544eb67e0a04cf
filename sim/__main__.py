"""``python -m sim``: the same as the ``svcsim`` command."""

import sys

from sim.cli import main

if __name__ == "__main__":  # importing it (pytest --doctest-modules does) runs nothing
    sys.exit(main())
