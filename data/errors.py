"""The errors a user can cause and act on. The CLI prints their message and exits 2."""


class TidingsError(Exception):
    """Something the user can fix: a config file, credentials, a locked database."""

    exit_code = 2  # what the CLI exits with when it reports this error


class ConfigError(TidingsError):
    """The config file is missing, unreadable or invalid."""


class StoreLockedError(TidingsError):
    """Another process holds the DuckDB file for longer than we are willing to wait."""


class PassRunningError(TidingsError):
    """Another process is running a pipeline pass on the same store: this one did not start."""

    exit_code = 75  # EX_TEMPFAIL: nothing is wrong, try again later (or use --wait)
