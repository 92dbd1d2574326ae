"""``python -m reta_core``: the command line (see :mod:`reta_core.cli`)."""
import sys

from .cli import main

sys.exit(main())
