"""The public Python API: list, analyze, build and graph any registered model, any torch.nn.Module
(`input_shape=(C, H, W)`) and any ONNX file (`"model.onnx"`, or an upload `"onnx:<sha256>"`)."""
from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable
from typing import Any

import networkx as nx

import archlib.families  # noqa: F401  (every family registers its models on import)
import archlib.importers  # noqa: F401  (op kinds of imported graphs; the resolver of ONNX names)
from archlib.core import registry
from archlib.core.analysis import Analysis, parse_level
from archlib.core.ir import IR
from archlib.errors import ArchlibError
from archlib.importers import models as imported

Model = Any  # a registered name, an ONNX path or upload name, or a torch.nn.Module


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    return registry.names()


def _is_module(name: Any) -> bool:
    return not isinstance(name, str)


def _knobs(name: Any, knobs: dict[str, Any]) -> dict[str, Any]:
    """An imported model's `input_shape=` as its knobs (the sizes its file leaves open)."""
    if isinstance(name, str) and "input_shape" in knobs and imported.claims(name) and name not in list_models():
        knobs = dict(knobs)
        shape = knobs.pop("input_shape")
        if shape is not None:
            knobs.update(imported.shape_knobs(name, shape))
    return knobs


def config(name: Model, /, **knobs: Any) -> dict[str, Any]:
    """The validated configuration of `name` with `knobs` applied (defaults filled in)."""
    if _is_module(name):
        return {"input_shape": _module_shape(name, knobs)}
    return registry.get(name).config(**_knobs(name, knobs))


@functools.lru_cache(maxsize=256)
def _lower(name: str, frozen: tuple[tuple[str, Any], ...]) -> IR:
    entry = registry.get(name)
    ir = entry.family.lower(dict(frozen))
    registry.check_size(name, ir, for_build=False)
    return ir


def lower(name: Model, /, **knobs: Any) -> IR:
    """The IR of `name` at its configuration (cached: IRs are immutable)."""
    if _is_module(name):
        return _module_ir(name, _module_shape(name, knobs))
    cfg = config(name, **knobs)
    if name in list_models():
        return _lower(name, tuple(sorted(cfg.items())))
    ir = registry.get(name).family.lower(cfg)  # imported: cached by content, not by a path that may change
    registry.check_size(name, ir, for_build=False)
    return ir


def model_name(name: Model) -> str:
    """How a model is called in tables and messages (a module: its class name)."""
    return type(name).__name__ if _is_module(name) else name


def analyze(name: Model, /, **knobs: Any) -> Analysis:
    """The per-layer analysis: table rows, totals and group/operator sums. Allocates no tensor.

    `name` is a registered model, an ONNX file (`"model.onnx"`, `"onnx:<sha256>"`; `input_shape=`
    where its input size is dynamic) or a torch.nn.Module with `input_shape=(C, H, W)`.
    """
    cfg = config(name, **knobs)
    notes = () if _is_module(name) else tuple(registry.get(name).notes(cfg))
    return Analysis.of(model_name(name), cfg, lower(name, **knobs), notes=notes)


def build(name: Model, /, **knobs: Any):
    """A real, runnable torch.nn.Module whose module names are the analysis row names (random weights)."""
    from archlib.views.torchmodel import build_module

    ir = lower(name, **knobs)
    registry.check_size(model_name(name), ir, for_build=True)
    return build_module(ir)


def graph(name: Model, /, *, level: str | int = "block", expand: Iterable[str] = (), **knobs: Any) -> nx.DiGraph:
    """The networkx DiGraph of `name` at `level` (op, unit, block, stage or a depth).

    Groups named in `expand` (e.g. {"s2.b1", "s4"}) are drawn one level finer, as clusters.
    """
    from archlib.views.blockgraph import collapse, op_graph

    level = parse_level(level)
    g = op_graph(analyze(name, **knobs))
    return g if level == "op" else collapse(g, level, expand=expand)


# -- torch modules ---------------------------------------------------------------------
#: module -> {(input shape, fingerprint): IR}; weak, so a module analysed is not kept alive
_MODULE_IRS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _module_shape(module: Any, knobs: dict[str, Any]) -> tuple[int, ...]:
    from archlib.importers.torch_module import check_input_shape, check_module

    check_module(module)
    extra = sorted(set(knobs) - {"input_shape"})
    if extra:
        raise ArchlibError(f"unknown knob {extra[0]!r} for a torch module; a module takes input_shape=(C, H, W).")
    if knobs.get("input_shape") is None:
        raise ArchlibError(f"{type(module).__name__}: give the per-sample input shape, e.g. input_shape=(3, 224, 224).")
    return check_input_shape(knobs["input_shape"])


def _module_ir(module: Any, shape: tuple[int, ...]) -> IR:
    from archlib.importers.torch_module import fingerprint, import_module

    key = (shape, fingerprint(module))
    try:
        cached = _MODULE_IRS.setdefault(module, {})
    except TypeError:  # not weak-referenceable: no cache
        cached = {}
    if key not in cached:
        cached[key] = import_module(module, shape)
        registry.check_size(model_name(module), cached[key], for_build=False)
    return cached[key]
