"""The core: the IR, knob schemas, the registry, scaling rules, cost and analysis.

Torch-free (an import-linter contract holds it): everything here is plain Python, so an
analysis allocates no tensor and never imports torch.
"""
