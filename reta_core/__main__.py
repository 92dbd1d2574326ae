"""``python -m reta_core``: the command line (see :mod:`reta_core.cli`)."""
from .cli import main_exit

main_exit()
