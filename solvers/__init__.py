"""Generalized assignment with soft capacities, on plain arrays.

Knows nothing about files or social work: items are assigned to agents through candidate pairs,
each with a cost and a load. The domain package builds these arrays; benchmarks and tests use them
directly.
"""

from solvers.context import Progress, SolveContext, Termination
from solvers.evaluate import Evaluation, evaluate
from solvers.greedy import greedy
from solvers.problem import AssignmentProblem, Solution, SolveStats, Status
from solvers.solve import solve

__all__ = ["AssignmentProblem", "Evaluation", "Progress", "Solution", "SolveContext",
           "SolveStats", "Status", "Termination", "evaluate", "greedy", "solve"]
