"""The console script's first moment: SIGTERM means Ctrl-C from here on, before the command
line's own (heavy) imports, so a signal before any plan exists gives one line and exit 130,
never a traceback or the bare exit 143 of an unhandled SIGTERM."""

from __future__ import annotations

import signal
import sys

from rebalancer.problems import INTERRUPTED


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# glibc gives each thread that allocates an arena of its own and keeps what is freed there for
# that thread: with the solve's threads (two localities at once) a 50,000-child run held
# 2.11 GB at its peak, 1.81 GB with two arenas (one arena: 1.80 GB, and a slower solve)
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2


def few_arenas() -> bool:
    """At most ARENAS malloc arenas for this process (glibc; elsewhere nothing changes).
    Whether glibc took it."""
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, ARENAS))
    except (OSError, AttributeError):
        return False


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        few_arenas()
        from rebalancer import cli
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED + "\n")
        raise SystemExit(130) from None
    cli.main()
