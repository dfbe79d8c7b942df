"""Generalized assignment with soft capacities, on plain arrays.

Knows nothing about files or social work: items are assigned to agents through candidate pairs,
each with a cost and a load. The domain package builds these arrays; benchmarks and tests use them
directly.
"""

from solvers.evaluate import Evaluation, evaluate
from solvers.greedy import greedy
from solvers.problem import AssignmentProblem, Solution, SolveStats, Status
from solvers.solve import solve

__all__ = ["AssignmentProblem", "Evaluation", "Solution", "SolveStats", "Status", "evaluate",
           "greedy", "solve"]
