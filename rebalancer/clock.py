"""When this process started, on the `time.perf_counter` scale.

`--time-limit` is the process's: from start to exit, with every output written. Python's own
start-up and imports come before any of our code runs (about half a second, more on a busy
machine), so the limit is counted from the moment the operating system started the process
(or, when another program ran in the process first and exec'd into Python, from this package's
import).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Python's own start-up before it imports this package: tens of milliseconds, a second or two on
# a machine busy with other work. A process older than that (by the system's account) ran
# something else first and exec'd into Python (`bash -c "pip install . && rebalancer ..."`
# execs its last command in place), and that time is not ours.
BOOT_MAX = 2.0


def process_started() -> float:
    """When this program started, on the perf_counter scale: the process's start by the system's
    account where that is Python's own start-up, else when this package was first imported."""
    from rebalancer import IMPORTED_AT

    start = _system_start()
    if start is None or IMPORTED_AT - start > BOOT_MAX:
        return IMPORTED_AT
    return start


def _system_start() -> float | None:
    """The process's start on the perf_counter scale, as /proc says; None where it does not."""
    now = time.perf_counter()
    try:
        # field 22 of /proc/self/stat: start time in clock ticks since boot (after the command
        # name, which may hold spaces, hence the split at its closing parenthesis)
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        age = since_boot - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return now - age if age >= 0 else None  # a clock that disagrees is not trusted


_origin: list[float] = []  # set once by the command-line entry point, which owns the process


def count_from_process_start() -> None:
    """Runs in this process count their time limit from the process's start (the command line
    calls this; a library caller or a test runner, whose process began long before, does not)."""
    _origin[:] = [process_started()]


def count_from_now() -> None:
    """Runs in this process count their time limit from now (the demo, once the search is
    compiled)."""
    _origin[:] = [time.perf_counter()]


def run_started() -> float:
    """Where a run's time limit starts: the process's start for the command line, else now."""
    return _origin[0] if _origin else time.perf_counter()
