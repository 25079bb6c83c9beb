"""``python -m attnlib.bench``: see :mod:`attnlib.bench.cli`; ``--help`` lists the options."""

import sys

from .cli import main

sys.exit(main())
