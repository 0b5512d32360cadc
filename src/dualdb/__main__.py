"""``python -m dualdb``: the same as the ``dualdb`` command."""

import sys

from dualdb.cli import main

sys.exit(main())
