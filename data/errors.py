"""The errors a user can cause and act on. The CLI prints their message and exits 2."""


class TidingsError(Exception):
    """Something the user can fix: a config file, credentials, a locked database."""


class ConfigError(TidingsError):
    """The config file is missing, unreadable or invalid."""


class StoreLockedError(TidingsError):
    """Another process holds the DuckDB file for longer than we are willing to wait."""
