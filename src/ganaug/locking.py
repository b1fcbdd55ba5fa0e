"""One process per run folder: an exclusive lock on ``FOLDER/.ganaug.lock``.

``fcntl.flock`` where available: the kernel drops the lock when its process dies (even on
SIGKILL), so a lock file left by a dead process is simply taken over. Elsewhere an ``O_EXCL``
lock file holding the PID is used, and taken over when that PID no longer runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ganaug.errors import UserError

LOCK_NAME = ".ganaug.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").split()
    except OSError:
        return "another process"
    return f"PID {text[0]}" if text and text[0].isdigit() else "another process"


def _in_use(folder: Path, path: Path) -> UserError:
    return UserError(
        f"{folder} is in use by {_holder(path)}: another ganaug process is writing into it. "
        "Wait for it to finish (or stop it), or use another folder"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the folder's lock for the ``with`` block; raises :class:`UserError` naming the PID
    of the process that holds it. Re-entrant within one process for the same folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    key = str(path.resolve())
    if key in _HELD:  # already ours (e.g. train() called by the pipeline on a locked folder)
        yield path
        return
    if fcntl is not None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise _in_use(folder, path) from None
                raise
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            _HELD.add(key)
            try:
                yield path
            finally:
                _HELD.discard(key)
                os.ftruncate(fd, 0)  # the file stays: unlinking it could race with a new holder
        finally:
            os.close(fd)
        return
    # Fallback: O_EXCL file with our PID; a file naming a dead process is stale and taken over.
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            text = path.read_text(encoding="utf-8").split() if path.exists() else []
            if text and text[0].isdigit() and _pid_alive(int(text[0])):
                raise _in_use(folder, path) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    else:
        raise _in_use(folder, path)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    _HELD.add(key)
    try:
        yield path
    finally:
        _HELD.discard(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


_HELD: set[str] = set()
