"""When this process started, on the `time.perf_counter` scale.

`--time-limit` is the process's: from start to exit, with every output written. Python's own
start-up and imports come before any of our code runs (about half a second, more on a busy
machine), so the limit is counted from the moment the operating system started the process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def process_started() -> float:
    """The process's start on the perf_counter scale; now, where the system does not say."""
    now = time.perf_counter()
    try:
        # field 22 of /proc/self/stat: start time in clock ticks since boot (after the command
        # name, which may hold spaces, hence the split at its closing parenthesis)
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        age = since_boot - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 3600 else now  # a clock that disagrees is not trusted


_origin: list[float] = []  # set once by the command-line entry point, which owns the process


def count_from_process_start() -> None:
    """Runs in this process count their time limit from the process's start (the command line
    calls this; a library caller or a test runner, whose process began long before, does not)."""
    _origin[:] = [process_started()]


def run_started() -> float:
    """Where a run's time limit starts: the process's start for the command line, else now."""
    return _origin[0] if _origin else time.perf_counter()
