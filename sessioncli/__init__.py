"""sessioncli: a headless, onion-routed command-line client for the Session messenger."""

__version__ = "0.1.0"
