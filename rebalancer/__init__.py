"""caseload-rebalancer: minimal-disruption rebalancing of children's social work caseloads."""

import time as _time

__version__ = "0.5.0"

# When this package was first imported, on the perf_counter scale: the earliest moment our own
# code runs after the interpreter starts. rebalancer.clock uses it to tell the process's start
# from an earlier program's when a shell exec'd into this one (the two share a process).
IMPORTED_AT = _time.perf_counter()
