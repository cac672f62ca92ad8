"""archlib: efficient vision architectures as data, built, costed and drawn from one IR."""
from archlib.api import analyze, build, config, graph, list_models, lower
from archlib.core.analysis import Analysis
from archlib.core.registry import get as get_model
from archlib.errors import ArchlibError

__all__ = ["Analysis", "ArchlibError", "analyze", "build", "config", "get_model", "graph",
           "list_models", "lower"]
