"""Exceptions that carry a message meant for the user (the CLI prints them without a traceback)."""


class UserError(Exception):
    """Bad input or a missing file the user can fix; the message says how."""


class DataError(UserError):
    """The data cannot be used (nothing loadable, an unknown class, a bad split...)."""


class CheckpointError(UserError):
    """A snapshot is missing, corrupt, or incompatible with what was asked."""


class TrainingDivergedError(UserError):
    """Training produced NaN/Inf; the last good snapshot is kept."""


class RunsFailedError(UserError):
    """Some runs of a batch (the benchmark's arms x seeds) failed; each is named with its error, and
    the runs that finished are saved, so the next call redoes only the failed ones."""


def os_error_message(e: OSError) -> str:
    """One line for an OSError: the path, the reason, what to do (disk full, permissions...)."""
    import errno

    reason = e.strerror or str(e) or type(e).__name__
    where = f"{e.filename}: " if e.filename else ""
    if e.filename2:
        where = f"{e.filename} -> {e.filename2}: "
    hint = {
        errno.ENOSPC: "free some disk space or write elsewhere; files written before are intact",
        errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
        errno.EACCES: "check the permissions of the path, or write elsewhere",
        errno.EPERM: "check the permissions of the path, or write elsewhere",
        errno.EROFS: "the file system is read-only; write elsewhere",
    }.get(e.errno)
    return f"{where}{reason}" + (f" ({hint})" if hint else "")
