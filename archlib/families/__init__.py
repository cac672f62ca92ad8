"""Every family registers its models on import; one family per module."""
from archlib.families import lenet, mobilenet_v2  # noqa: F401
