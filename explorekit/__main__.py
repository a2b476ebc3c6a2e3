"""``python -m explorekit``: the command line (see :mod:`explorekit.cli`)."""

import sys

from .cli import main

sys.exit(main())
