"""Errors that name the bad input. The CLI prints them without a traceback and exits non-zero."""


class DynaworldError(Exception):
    """Base class of every error the user can fix."""


class ConfigError(DynaworldError, ValueError):
    """An unknown config key, a wrong type or an impossible value."""


class EnvironmentNotFound(DynaworldError):
    """An unknown environment id or a missing ROM / game."""


class RunsFailed(DynaworldError):
    """Some runs of a sweep failed (the others finished and are recorded): exit status 1."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C at a whole step, with a checkpoint; the message says how to
    resume (exit status 130)."""


class CheckpointError(DynaworldError):
    """A missing, truncated or corrupt checkpoint."""
