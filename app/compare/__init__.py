"""The Compare page's parts (the page itself is pages/compare.py)."""
