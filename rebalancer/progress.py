"""The live progress line while solving: elapsed time, best objective, bound and gap."""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import TextIO

from rebalancer.model.build import COST_SCALE


class ProgressLine:
    """Rewrites one line on a terminal; elsewhere (logs, CI) prints at most one line a second."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.best = math.inf
        self.bound = -math.inf
        self.last = 0.0
        self.min_interval = 0.1 if self.tty else min_interval
        self.lock = threading.Lock()
        self.shown = False

    def __call__(self, elapsed: float, objective: float, bound: float) -> None:
        with self.lock:
            if not math.isnan(objective):
                self.best = min(self.best, objective / COST_SCALE)
            if not math.isnan(bound):
                self.bound = max(self.bound, bound / COST_SCALE)
            now = time.monotonic()
            if now - self.last < self.min_interval:
                return
            self.last = now
            self._show(elapsed)

    def _show(self, elapsed: float) -> None:
        if math.isinf(self.best):
            text = f"solving  {elapsed:6.1f}s  no plan yet"
        elif math.isinf(self.bound):
            text = f"solving  {elapsed:6.1f}s  best {self.best:,.0f}  (bound not yet known)"
        else:
            gap = (self.best - self.bound) / self.best if self.best > 0 else 0.0
            text = (f"solving  {elapsed:6.1f}s  best {self.best:,.0f}  bound {self.bound:,.0f}"
                    f"  gap {max(gap, 0.0):.2%}")
        if self.tty:
            self.stream.write("\r" + text.ljust(72))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
