"""Importers: models from outside the catalogue as IRs, with every view the catalogue has.

- torch_module: any torch.nn.Module (archlib.analyze(module, input_shape=(C, H, W))).
- onnx_file / onnx_ops: an ONNX file, by path (`model.onnx`) or uploaded (`onnx:<sha256>`,
  kept by archlib.importers.uploads); both names resolve through the registry.
Importing this package registers the op kinds imported graphs use (archlib.core.tensor_ops)
and the registry's resolver for ONNX names; torch and onnx are imported only when used.
"""
from archlib.core import registry, tensor_ops  # noqa: F401  (tensor_ops registers its op kinds)
from archlib.importers import models

registry.register_resolver(models.claims, models.resolve)
