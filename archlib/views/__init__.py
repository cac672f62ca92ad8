"""Views of an IR: the runnable torch module, the block graph, and the independent counters."""
