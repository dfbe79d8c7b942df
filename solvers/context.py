"""What every stage and engine call of one solve receives: the work budget, the clock's deadline,
the stop signal, where progress goes, the seed and the threads; and why a solve stopped.

The budget is `work`: deterministic units, about seconds of the 2-core machine the rates were
measured on (CP-SAT's deterministic time, LNS's counted steps). Stages split it into fixed
shares before they start, so the same inputs, seed, threads and work give the same plan on any
machine at any load. The deadline is the user's time limit and nothing else: a valve that cuts
a stage short (and then says so), never a budget.

Every CP-SAT or HiGHS call runs through `SolveContext.run`: counted while it runs (so that the
process waits for it before exiting, see `solvers.stopping`) and halted as soon as the stop
event is set, by one watcher per solve.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from solvers.stopping import SOLVE_THREAD, engine_call

T = TypeVar("T")
Progress = Callable[[float, float, float], None]  # elapsed seconds, best objective, best bound


class Termination(enum.Enum):
    """Why a solve stopped, from the engines to summary.json (in the spirit of linopy's
    TerminationCondition). Ordered: a solve that ran in parts stopped for its worst part's
    reason."""

    FINISHED = "finished"  # the plan is proven optimal, nothing was cut
    WORK_SPENT = "work_spent"  # every stage ran its share of the work to its end
    DEADLINE = "deadline"  # the time limit cut a stage: a re-run may give another plan
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM or the caller's stop: the best plan so far

    @property
    def reproducible(self) -> bool:
        """The same inputs, seed, threads and work give this plan again."""
        return self in (Termination.FINISHED, Termination.WORK_SPENT)

    def worst(self, other: Termination) -> Termination:
        order = list(Termination)
        return max(self, other, key=order.index)


class _Engines:
    """The engine calls running in one solve, each with its halt; one watcher thread halts them
    all once the stop event is set (and any call that starts after it at once)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.lock = threading.Lock()
        self.halts: dict[int, Callable[[], None]] = {}
        self.next_id = 0
        self.watcher: threading.Thread | None = None

    def _watch(self) -> None:
        # once stop is set, every call still running is halted, again every 0.05 s: a call
        # that had not reached its engine's loop at the first halt is caught by the next
        while True:
            with self.lock:
                if not self.halts:
                    self.watcher = None
                    return
                halts = list(self.halts.values()) if self.stop.is_set() else []
            for halt in halts:
                halt()
            if halts:
                time.sleep(0.05)
            else:
                self.stop.wait(0.05)

    def run(self, call: Callable[[], T], halt: Callable[[], None]) -> T:
        with engine_call():
            with self.lock:
                key = self.next_id
                self.next_id += 1
                self.halts[key] = halt
                if self.watcher is None:
                    self.watcher = threading.Thread(target=self._watch, daemon=True,
                                                    name=f"{SOLVE_THREAD}-watch")
                    self.watcher.start()
            try:
                return call()
            finally:
                with self.lock:
                    del self.halts[key]


@dataclasses.dataclass(frozen=True)
class SolveContext:
    """One solve's budget, deadline, stop, progress sink, seed and threads, built once.

    A part of the solve (a component of the problem) gets a narrowed copy: its share of the
    work, its own seed and thread count, and a deadline no later than the whole's; the stop
    event, progress sink and engine watcher stay the same objects."""

    work: float  # the budget, in work units: stages take fixed shares of it
    deadline: float  # time.perf_counter() at which the clock valve closes
    stop: threading.Event
    progress: Progress | None = None
    seed: int = 0
    threads: int = 2
    engines: _Engines = dataclasses.field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.engines is None:
            object.__setattr__(self, "engines", _Engines(self.stop))

    @classmethod
    def start(cls, work: float, *, wall: float | None = None, seed: int = 0, threads: int = 2,
              stop: threading.Event | None = None, progress: Progress | None = None
              ) -> SolveContext:
        """A context from now: `work` units to spend, the clock closing after `wall` seconds
        (after `work` seconds when not given)."""
        seconds = work if wall is None else wall
        return cls(work, time.perf_counter() + seconds, stop or threading.Event(), progress,
                   seed, threads)

    def left(self) -> float:
        """Seconds until the clock valve closes."""
        return self.deadline - time.perf_counter()

    def part(self, work: float, *, seed: int | None = None, threads: int | None = None,
             wall: float | None = None) -> SolveContext:
        """A part's context: its work, its seed and threads (the same when not given), and at
        most `wall` seconds from now."""
        deadline = self.deadline if wall is None else min(self.deadline,
                                                          time.perf_counter() + wall)
        return dataclasses.replace(self, work=work, deadline=deadline,
                                   seed=self.seed if seed is None else seed,
                                   threads=self.threads if threads is None else threads)

    def run(self, call: Callable[[], T], halt: Callable[[], None]) -> T:
        """An engine call on this thread: counted while it runs, halted once stop is set."""
        return self.engines.run(call, halt)

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()
