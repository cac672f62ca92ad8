"""The Concepts page's parts (the page itself is pages/concepts.py)."""
