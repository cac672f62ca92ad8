"""The public Python API: list, analyze, build and graph any registered model."""
from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import networkx as nx

import archlib.families  # noqa: F401  (every family registers its models on import)
from archlib.core import registry
from archlib.core.analysis import Analysis, parse_level
from archlib.core.ir import IR


def list_models() -> list[str]:
    """Names of every registered model, sorted."""
    return registry.names()


def config(name: str, /, **knobs: Any) -> dict[str, Any]:
    """The validated configuration of `name` with `knobs` applied (defaults filled in)."""
    return registry.get(name).config(**knobs)


@functools.lru_cache(maxsize=256)
def _lower(name: str, frozen: tuple[tuple[str, Any], ...]) -> IR:
    entry = registry.get(name)
    ir = entry.family.lower(dict(frozen))
    registry.check_size(name, ir, for_build=False)
    return ir


def lower(name: str, /, **knobs: Any) -> IR:
    """The IR of `name` at its configuration (cached: IRs are immutable)."""
    cfg = config(name, **knobs)
    return _lower(name, tuple(sorted(cfg.items())))


def analyze(name: str, /, **knobs: Any) -> Analysis:
    """The per-layer analysis: table rows, totals and group/operator sums. Allocates no tensor."""
    cfg = config(name, **knobs)
    notes = tuple(registry.get(name).notes(cfg))
    return Analysis.of(name, cfg, _lower(name, tuple(sorted(cfg.items()))), notes=notes)


def build(name: str, /, **knobs: Any):
    """A real, runnable torch.nn.Module whose module names are the analysis row names."""
    from archlib.views.torchmodel import build_module

    ir = lower(name, **knobs)
    registry.check_size(name, ir, for_build=True)
    return build_module(ir)


def graph(name: str, /, *, level: str | int = "block", expand: Iterable[str] = (), **knobs: Any) -> nx.DiGraph:
    """The networkx DiGraph of `name` at `level` (op, unit, block, stage or a depth).

    Groups named in `expand` (e.g. {"s2.b1", "s4"}) are drawn one level finer, as clusters.
    """
    from archlib.views.blockgraph import collapse, op_graph

    level = parse_level(level)
    g = op_graph(analyze(name, **knobs))
    return g if level == "op" else collapse(g, level, expand=expand)
