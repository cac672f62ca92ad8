"""Published results (the bundled CSV with citations) and Pareto fronts."""
