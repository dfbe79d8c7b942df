"""The console script's first moment: SIGTERM means Ctrl-C from here on, before the command
line's own (heavy) imports, so a signal before any plan exists gives one line and exit 130,
never a traceback or the bare exit 143 of an unhandled SIGTERM."""

from __future__ import annotations

import signal
import sys

from rebalancer.problems import INTERRUPTED


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from rebalancer import cli
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED + "\n")
        raise SystemExit(130) from None
    cli.main()
