"""The Explore page's parts (the page itself is pages/explore.py)."""
