"""Importers: models from outside the catalogue (a torch.nn.Module, an ONNX file) as IRs.

Importing this package registers the op kinds imported graphs use (archlib.core.tensor_ops).
"""
from archlib.core import tensor_ops  # noqa: F401  (registers the imported graphs' op kinds)
