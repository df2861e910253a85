"""``python -m elfdeps``."""

import sys

from elfdeps.cli import main

sys.exit(main())
