"""``python -m fastloss.bench``: see :mod:`fastloss.bench.cli`."""

import sys

from .cli import main

sys.exit(main())
