"""archlib: efficient vision architectures as data, built, costed and drawn from one IR."""
from archlib.analysis import Analysis
from archlib.api import analyze, build, config, graph, list_models, lower
from archlib.errors import ArchlibError
from archlib.registry import get as get_model

__all__ = ["Analysis", "ArchlibError", "analyze", "build", "config", "get_model", "graph",
           "list_models", "lower"]
