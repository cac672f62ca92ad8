"""IR -> a real, runnable torch.nn.Module whose module names are the IR's op names.

Every op becomes a leaf module at its dotted name (`s3.b1.dw.conv`); every name prefix
becomes a container module whose forward runs its ops in order, so hooks, state_dict
keys, FlopCounterMode and fvcore all see the same names as the analysis table.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archlib.ir import INPUT, IR, Op

_ACT = {
    "relu": lambda: nn.ReLU(inplace=False),
    "relu6": lambda: nn.ReLU6(inplace=False),
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


class Add(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Mul(nn.Module):
    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x * scale


class Concat(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ChannelSlice(nn.Module):
    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.stop]

    def extra_repr(self) -> str:
        return f"channels [{self.start}, {self.stop})"


#: op kind -> factory of its leaf module; families with extra op kinds add theirs here.
LEAF_FACTORIES: dict[str, Any] = {
    "conv2d": lambda a: nn.Conv2d(a["in_ch"], a["out_ch"], a["kernel"], a["stride"], a["padding"],
                                  a["dilation"], a["groups"], a["bias"]),
    "linear": lambda a: nn.Linear(a["in_f"], a["out_f"], a["bias"]),
    "bn2d": lambda a: nn.BatchNorm2d(a["channels"], eps=a["eps"], momentum=a["momentum"]),
    "layernorm": lambda a: nn.LayerNorm(a["dim"], eps=a["eps"]),
    "act": lambda a: _ACT[a["fn"]](),
    "maxpool2d": lambda a: nn.MaxPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"]),
    "avgpool2d": lambda a: nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"]),
    "adaptive_avgpool2d": lambda a: nn.AdaptiveAvgPool2d(a["out"]),
    "flatten": lambda a: nn.Flatten(1),
    "dropout": lambda a: nn.Dropout(a["p"]),
    "add": lambda a: Add(),
    "mul": lambda a: Mul(),
    "concat": lambda a: Concat(),
    "channel_shuffle": lambda a: ChannelShuffle(a["groups"]),
    "slice": lambda a: ChannelSlice(a["start"], a["stop"]),
}


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
        for depth, part in enumerate(parts[:-1]):
            if part not in parent._modules:
                parent.add_module(part, Group())
                parent._plan.append((part, None, ()))  # type: ignore[attr-defined]
            parent = parent._modules[part]
        leaf = LEAF_FACTORIES[op.kind](op.attrs)
        parent.add_module(parts[-1], leaf)
        free = tuple(s for s in dict.fromkeys(op.inputs) if last_use[s] == i and s != ir.output.name)
        parent._plan.append((parts[-1], op, free))  # type: ignore[attr-defined]


def build_module(ir: IR) -> IRModel:
    """A freshly initialised IRModel for `ir` (torch's default initialisation)."""
    return IRModel(ir)


import archlib.attention_torch  # noqa: E402,F401  (registers the attention op kinds' leaf modules)
