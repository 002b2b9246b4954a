"""``python -m artsearch``."""

import sys

from artsearch.cli import main

sys.exit(main())
