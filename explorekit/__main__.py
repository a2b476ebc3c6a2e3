"""``python -m explorekit``: the command line (see :mod:`explorekit.cli`)."""

import sys

from explorekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
