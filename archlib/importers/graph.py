"""What both importers share: ops collected in execution order, then named and made an IR.

An importer adds ops with a scope (the module path, or the node name's path) and a local
name; `finish` names them hierarchically so that every group of ops is a contiguous run,
as the IR requires: a module called twice becomes two groups (`act`, `act@2`), and names
that could not be module names in the built model (Python attributes of nn.Module, an
empty or over-long part, a dot) are made safe. Torch-free.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from archlib.core.ir import INPUT, IR, IRBuilder
from archlib.core.tensor_ops import Size, per_sample
from archlib.errors import ArchlibError

MAX_PART = 80

#: attribute names of torch.nn.Module and archlib's Group/IRModel: a child module may not take
#: them (tests/test_importers_graph.py checks this list against torch's own)
RESERVED = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules
named_parameters parameters register_backward_hook register_buffer register_forward_hook
register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory smart_apply state_dict to to_empty train training type
xpu zero_grad ir input
""".split())


@dataclass
class Pending:
    """One op before it has a name: inputs are indices of earlier pending ops (or INPUT)."""

    scope: tuple[str, ...]
    base: str
    kind: str
    inputs: list[int | str]
    sizes: tuple[Size, ...]
    attrs: dict[str, Any] = field(default_factory=dict)


_UNSAFE = re.compile(r"[^\w\-@:+#]")


def safe_part(text: str) -> str:
    """A name component the IR and torch accept: no dot, printable, short, not an nn.Module attribute."""
    part = _UNSAFE.sub("_", str(text))[:MAX_PART] or "_"
    if part in RESERVED or part.startswith("_"):
        part = part + "_" if part in RESERVED else "x" + part
    return part


class GraphBuilder:
    """Collects pending ops; `finish` names them and returns the validated IR."""

    def __init__(self, input_shape: Sequence[int], *, collapse_single: bool = True) -> None:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.ops: list[Pending] = []
        self.collapse_single = collapse_single  # a scope with one op names it (torch: `stage1.0.dw`)

    def add(self, scope: Sequence[str], base: str, kind: str, inputs: Sequence[int | str],
            sizes: Sequence[Size], **attrs: Any) -> int:
        self.ops.append(Pending(tuple(safe_part(p) for p in scope), safe_part(base), kind, list(inputs),
                                tuple(sizes), attrs))
        return len(self.ops) - 1

    def finish(self, output: int | str, *, batch: int | None = None, notes: Sequence[str] = ()) -> IR:
        if output == INPUT or not self.ops:
            raise ArchlibError("the model returns its input unchanged: there is no operation to analyse.")
        if output != len(self.ops) - 1:  # the IR's output is its last op
            self.add((), "output", "identity", [output], self.ops[output].sizes)
        names = self._names()
        b = IRBuilder(self.input_shape)
        for p, name in zip(self.ops, names):
            ins = [i if i == INPUT else names[i] for i in p.inputs]
            b.emit(name, p.kind, ins, per_sample(p.sizes), **p.attrs)
        try:
            return b.finish(batch=batch, notes=notes)
        except ValueError as e:  # a naming bug, not the user's: say what the IR refused
            raise ArchlibError(f"the imported graph could not be named consistently: {e}") from e

    def _names(self) -> list[str]:
        scopes = _runs([p.scope for p in self.ops])
        count: dict[tuple[str, ...], int] = {}
        children: dict[tuple[str, ...], set[str]] = {}
        for s in scopes:
            for n in range(len(s) + 1):
                count[s[:n]] = count.get(s[:n], 0) + 1
                if n < len(s):
                    children.setdefault(s[:n], set()).add(s[n])
        used: dict[tuple[str, ...], set[str]] = {}
        out = []
        for p, s in zip(self.ops, scopes):
            if self.collapse_single and s and count[s] == 1:
                out.append(".".join(s))
                continue
            taken = used.setdefault(s, set(children.get(s, ())))
            local, i = p.base, 1
            while local in taken or (not s and local == INPUT):
                local, i = f"{p.base}_{i}", i + 1
            taken.add(local)
            out.append(".".join((*s, local)))
        return out


def _runs(scopes: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Scopes made contiguous: each new run of a scope already closed gets `@2`, `@3`..."""
    runs: dict[tuple[str, ...], dict[str, int]] = {}
    prev_raw: tuple[str, ...] = ()
    prev: tuple[str, ...] = ()
    out = []
    for raw in scopes:
        n = 0
        while n < min(len(raw), len(prev_raw)) and raw[n] == prev_raw[n]:
            n += 1
        res = list(prev[:n])
        for part in raw[n:]:
            seen = runs.setdefault(tuple(res), {})
            seen[part] = seen.get(part, 0) + 1
            res.append(part if seen[part] == 1 else f"{part}@{seen[part]}")
        prev_raw, prev = raw, tuple(res)
        out.append(prev)
    return out
