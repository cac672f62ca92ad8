"""What every page shares: the URL state codec, widgets, caches, charts and tables."""
