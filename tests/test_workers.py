"""ganaug.workers: waiting on worker processes never hides a Ctrl-C.

A signal sent to the process (``kill``, Ctrl-C to the process group) may be received by any thread
that does not block it; Python then runs its handler in the main thread, but only once that thread
executes bytecode again. A main thread blocked in ``as_completed`` noticed such a Ctrl-C only when
the next run finished (20 s for a 20 s run, reproduced with ``pthread_kill`` as below).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import signal, sys, threading, time
    # as a program in a terminal: a test run started in the background (`make test &`) hands SIGINT
    # down ignored, and Python keeps it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {src!r})
    from ganaug.workers import completed, results_in_order, worker_pool

    def slow(x):
        time.sleep(30)
        return x

    def poke():  # this thread, not the main one, receives the SIGINT
        time.sleep(1.5)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    if __name__ == "__main__":
        t0 = time.time()
        try:
            with worker_pool(1) as ex:
                futs = [ex.submit(slow, 1)]
                threading.Thread(target=poke, daemon=True).start()
                for f in {wait}:
                    pass
            print("not interrupted", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted after {{time.time() - t0:.1f}} s", flush=True)
    """
)


@pytest.mark.parametrize("wait", ["completed(futs)", "results_in_order(futs)"])
def test_a_signal_another_thread_received_interrupts_the_wait_at_once(tmp_path, wait):
    src = str(Path(__file__).resolve().parents[1] / "src")
    script = tmp_path / "wait.py"
    script.write_text(SCRIPT.format(src=src, wait=wait))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("interrupted after"), out.stdout + out.stderr
    assert float(out.stdout.split()[2]) < 6  # not the worker's 30 s


def test_completed_and_results_in_order_return_every_result():
    from ganaug.workers import completed, results_in_order, worker_pool

    with worker_pool(2) as ex:
        futs = [ex.submit(pow, 2, k) for k in range(6)]
        assert sorted(f.result() for f in completed(futs)) == [2**k for k in range(6)]
        assert list(results_in_order(futs)) == [2**k for k in range(6)]
