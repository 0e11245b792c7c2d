"""``python -m declml``."""

from declml.cli.main import main

main()
