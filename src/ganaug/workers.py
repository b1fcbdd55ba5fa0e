"""Worker processes that end with their parent, and signals that end the parent cleanly.

* :func:`worker_pool` -- a ``ProcessPoolExecutor`` (spawn) whose workers ignore SIGINT (Ctrl-C
  reaches the whole process group; only the parent reacts, so no worker prints a traceback),
  ask the kernel for SIGKILL when their parent dies (``PR_SET_PDEATHSIG`` on Linux) and also
  watch their parent from a thread (any OS), so ``kill -9`` of the parent leaves nothing behind.
  Leaving the ``with`` block by an exception (Ctrl-C, SIGTERM, an error) cancels what has not
  started and terminates the workers instead of waiting for their runs to finish.
* :func:`completed` / :func:`results_in_order` -- wait on futures waking a few times a second, so a
  Ctrl-C or SIGTERM that another thread of this process received is acted on at once (Python runs
  signal handlers in the main thread only when it executes bytecode: blocked in ``as_completed``
  it noticed the signal only when the next run finished).
* :func:`handle_termination` -- SIGTERM in the parent raises :class:`Terminated`, which unwinds
  like Ctrl-C does (pools shut down, locks released); the CLI exits 143 for it, 130 for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any


class Terminated(BaseException):
    """SIGTERM received. A BaseException, like KeyboardInterrupt, so ``except Exception`` lets it pass."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def handle_termination() -> None:
    """In the main thread: turn SIGTERM into :class:`Terminated` (a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


# ----------------------------------------------------------------------------
# Inside a worker


_PR_SET_PDEATHSIG = 1


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _die_with_parent(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Spawned with both signals blocked (see _Pool): a Ctrl-C that came while this process was
    # still starting is pending, and is ignored now rather than killing it mid-import with a traceback.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes  # Linux only, and any failure here is tolerated (the watch thread remains)

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="ganaug-parent-watch", daemon=True).start()


def _init(parent: int, initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    _die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


# ----------------------------------------------------------------------------
# In the parent


class _Pool(ProcessPoolExecutor):
    """Starts each worker with SIGINT and SIGTERM blocked (the mask survives fork + exec).

    Without it a Ctrl-C sent to the process group while a worker is importing torch kills that
    worker with a traceback, and the parent sees a broken pool instead of the interrupt. The
    parent's own mask is restored at once, so a signal that arrived meanwhile is delivered to it.
    """

    def _spawn_process(self) -> None:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            super()._spawn_process()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop(pool: ProcessPoolExecutor, grace: float = 5.0) -> None:
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)


@contextlib.contextmanager
def worker_pool(
    max_workers: int,
    *,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple = (),
    start_method: str = "spawn",
) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers end with this process (see the module docstring)."""
    pool = _Pool(
        max_workers=max_workers,
        mp_context=mp.get_context(start_method),
        initializer=_init,
        initargs=(os.getpid(), initializer, initargs),
    )
    try:
        yield pool
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


# ----------------------------------------------------------------------------
# Waiting


_POLL_S = 0.25


def completed(futures: Iterable[Future]) -> Iterator[Future]:
    """The futures as they complete (like ``as_completed``), waking every quarter second so that a
    signal is handled at once, whichever thread received it."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
        yield from done


def results_in_order(futures: Iterable[Future]) -> Iterator[Any]:
    """The futures' results in the given order (like ``Executor.map``), waking as :func:`completed` does."""
    for fut in futures:
        while not wait([fut], timeout=_POLL_S).done:
            pass
        yield fut.result()
