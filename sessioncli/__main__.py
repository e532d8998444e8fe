"""Entry point for `python -m sessioncli`."""

from sessioncli.cli import main

main()
