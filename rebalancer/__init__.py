"""caseload-rebalancer: minimal-disruption rebalancing of children's social work caseloads."""

__version__ = "0.4.0"
