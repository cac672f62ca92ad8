"""The Performer page's parts (the page itself is pages/performer.py)."""
