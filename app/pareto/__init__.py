"""The Pareto page's parts (the page itself is pages/pareto.py)."""
