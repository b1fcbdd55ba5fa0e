"""Exceptions that carry a message meant for the user (the CLI prints them without a traceback)."""


class UserError(Exception):
    """Bad input or a missing file the user can fix; the message says how."""


class DataError(UserError):
    """The data cannot be used (nothing loadable, an unknown class, a bad split...)."""


class CheckpointError(UserError):
    """A snapshot is missing, corrupt, or incompatible with what was asked."""


class TrainingDivergedError(UserError):
    """Training produced NaN/Inf; the last good snapshot is kept."""
