"""IR -> a real, runnable torch.nn.Module whose module names are the IR's op names.

Every op becomes a leaf module at its dotted name (`s3.b1.dw.conv`); every name prefix
becomes a container module whose forward runs its ops in order, so hooks, state_dict
keys, FlopCounterMode and fvcore all see the same names as the analysis table.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from archlib.core.cost import get_kind
from archlib.core.ir import INPUT, IR, Op


@functools.cache
def leaf_factory(kind: str) -> Callable[[Mapping[str, Any]], nn.Module]:
    """The factory of op kind `kind`'s leaf module, as its registration names it."""
    module, _, func = get_kind(kind).module.partition(":")
    return getattr(importlib.import_module(module), func)


class Group(nn.Module):
    """A name prefix (stage, block, unit): runs its children in order over a shared env."""

    def __init__(self) -> None:
        super().__init__()
        # (child name, op or None for a sub-group, names to free after it)
        self._plan: list[tuple[str, Op | None, tuple[str, ...]]] = []

    def forward(self, env: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for child, op, free in self._plan:
            mod = self._modules[child]
            if op is None:
                mod(env)
            else:
                env[op.name] = mod(*[env[i] for i in op.inputs])
            for name in free:
                del env[name]
        return env


class IRModel(nn.Module):
    """The built model: `forward(x)` runs the IR on a batched input and returns its output."""

    def __init__(self, ir: IR) -> None:
        super().__init__()
        self.ir = ir
        _populate(self, ir)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = {INPUT: x}
        Group.forward(self, env)  # type: ignore[arg-type]
        return env[self.ir.output.name]


def _populate(root: nn.Module, ir: IR) -> None:
    last_use: dict[str, int] = {}
    for i, op in enumerate(ir.ops):
        for src in op.inputs:
            last_use[src] = i
    root._plan = []  # type: ignore[attr-defined]
    for i, op in enumerate(ir.ops):
        parts = op.name.split(".")
        parent = root
        for part in parts[:-1]:
            if part not in parent._modules:
                parent.add_module(part, Group())
                parent._plan.append((part, None, ()))  # type: ignore[attr-defined]
            parent = parent._modules[part]
        leaf = leaf_factory(op.kind)(op.attrs)
        parent.add_module(parts[-1], leaf)
        free = tuple(s for s in dict.fromkeys(op.inputs) if last_use[s] == i and s != ir.output.name)
        parent._plan.append((parts[-1], op, free))  # type: ignore[attr-defined]


def build_module(ir: IR) -> IRModel:
    """A freshly initialised IRModel for `ir` (torch's default initialisation)."""
    return IRModel(ir)

