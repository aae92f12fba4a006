"""``python -m shadow.cli``."""

from shadow.cli.app import main

main()
