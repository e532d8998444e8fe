"""Front doors beside the CLI (daemon, sendmail shim, webhook receiver, apprise plugin), on `api`.

Like `cli/`, these own their process: they may print and exit. They use `sessioncli.api` only,
never `core/` internals.
"""
