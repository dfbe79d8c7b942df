"""The model: hard rules, cost terms, the solver's arrays, the plan and its explanations."""
