"""The Scaling page's parts (the page itself is pages/scaling.py)."""
