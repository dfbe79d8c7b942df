"""Stopping CP-SAT and HiGHS from another thread, and waiting for them before the process exits.

An engine call runs in C++ and cannot be interrupted from Python. If the process exits while one
is still running on a daemon thread, the C++ runtime aborts it ("terminate called without an
active exception", SIGABRT) after the plan was written. So each long call runs with a watcher
that halts it once the solve's stop event is set, every call is counted while it runs, and the
command line waits for the count to reach zero before it exits.

The count, not `Thread.join`: on Python 3.11 a KeyboardInterrupt that lands inside `join()`
marks the joined thread as stopped while it is still running (CPython gh-90882), after which
every later `join()` returns at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
SOLVE_THREAD = "rebalancer-solve"  # the name of every thread the solve starts

_running = 0  # engine calls in progress, in this process
_changed = threading.Condition()


@contextlib.contextmanager
def engine_call() -> Iterator[None]:
    """Counts one CP-SAT or HiGHS call while it runs."""
    global _running
    with _changed:
        _running += 1
    try:
        yield
    finally:
        with _changed:
            _running -= 1
            _changed.notify_all()


def run_stoppable(run: Callable[[], T], halt: Callable[[], None],
                  stop: threading.Event | None) -> T:
    """`run()` on this thread, counted, while a watcher calls `halt()` once `stop` is set."""
    with engine_call():
        if stop is None:
            return run()
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                if stop.is_set():
                    halt()
                    return

        watcher = threading.Thread(target=watch, daemon=True, name=f"{SOLVE_THREAD}-watch")
        watcher.start()
        try:
            return run()
        finally:
            done.set()


def wait_for_engines(timeout: float) -> bool:
    """Wait until no engine call is running (they were told to stop); False if some still are."""
    with _changed:
        return _changed.wait_for(lambda: _running == 0, timeout)
