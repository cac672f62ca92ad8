"""Any torch.nn.Module through the IR: exact params and MACs, named rows, a runnable build.

The modules are plain torch (tests/torch_zoo.py: ConvNeXt-like, ResNeXt-like, an attention
hybrid with nn.MultiheadAttention and F.scaled_dot_product_attention); the references are
sum(p.numel()) and FlopCounterMode on the meta device (where it counts SDPA).
"""
from __future__ import annotations

import networkx as nx
import pytest
import torch
import torch.nn.functional as F
from checks import assert_agrees_with_torch
from oracles import graph_totals
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torch_zoo import ZOO

import archlib
from archlib.core.analysis import COUNTS
from archlib.importers.graph import RESERVED
from archlib.views.blockgraph import collapse, op_graph


def flopcounter_macs(cls, shape) -> int:
    with torch.device("meta"):
        m = cls().eval()
    with FlopCounterMode(display=False) as fc:
        m(torch.empty(1, *shape, device="meta"))
    return fc.get_total_flops() // 2


@pytest.fixture(scope="module", params=sorted(ZOO))
def imported(request):
    cls, shape = ZOO[request.param]
    module = cls().eval()
    return module, shape, archlib.analyze(module, input_shape=shape)


def test_params_and_buffers_equal_the_module(imported):
    module, _, a = imported
    assert a.totals()["params"] == sum(p.numel() for p in module.parameters())
    assert a.totals()["buffers"] == sum(b.numel() for b in module.buffers())


def test_macs_equal_flopcounter_on_meta(imported):
    module, shape, a = imported
    assert a.totals()["macs"] == flopcounter_macs(type(module), shape)
    assert not any(r.op == "other" for r in a.rows), "every op of these modules is in the vocabulary"


def test_built_module_agrees_per_module_and_runs_at_any_batch(imported):
    module, shape, a = imported
    assert a.ir.batch is None
    assert_agrees_with_torch(a)  # params, buffers, and FlopCounterMode per module of the built model
    built = archlib.build(module, input_shape=shape).eval()
    with torch.no_grad():
        y = built(torch.randn(3, *shape))
    assert tuple(y.shape) == (3, *a.output_shape) and torch.isfinite(y).all()


def test_graph_totals_and_names(imported):
    module, shape, a = imported
    g = op_graph(a)
    assert nx.is_directed_acyclic_graph(g) and graph_totals(g) == a.totals()
    for level in ("unit", "block", "stage"):
        assert graph_totals(collapse(g, level)) == a.totals()
    modules = dict(module.named_modules())
    for r in a.rows:  # a leaf module's row is its path; any other row sits under the module that ran it
        scope = r.name if r.name in modules else r.name.rpartition(".")[0]
        assert scope.split("@")[0] in modules, r.name
    assert sum(r.name in modules for r in a.rows) >= sum(r.op in ("conv2d", "linear") for r in a.rows) - 6


def test_rows_named_by_module_path():
    cls, shape = ZOO["convnext"]
    a = archlib.analyze(cls(), input_shape=shape)
    names = {r.name: r.op for r in a.rows}
    assert names["stages.1.1.dw"] == "conv2d" and names["stages.1.1.norm"] == "layernorm"
    assert names["stages.1.1.permute"] == "permute" and names["stages.1.1.gamma"] == "param"
    assert names["stages.1.0.0.permute"] == "permute"  # the channels-first LayerNorm's own permutes
    assert [g for g, _ in a.by_group("block")][:5] == ["stem.0", "stem.1", "stages.0", "stages.1", "stages.2"]


def test_attention_rows():
    cls, shape = ZOO["hybrid"]
    a = archlib.analyze(cls(), input_shape=shape)
    kinds = {r.name: r for r in a.rows}
    sdpa = kinds["blocks.1.sdpa"]
    heads, length, dh = sdpa.in_shape
    assert sdpa.op == "sdpa" and sdpa.cost.macs == heads * length * length * 2 * dh
    assert sum(r.cost.macs for r in a.rows if r.name.startswith("blocks.0.mha.")) > 0


class _Tricky(nn.Module):
    """A reused activation, a weight tied into two layers, an unused layer, an einsum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc2.weight = self.fc1.weight  # tied
        self.unused = nn.Linear(5, 7)
        self.mix = nn.Parameter(torch.randn(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv(x)).mean((2, 3))
        y = self.act(self.fc2(self.fc1(y)))
        return torch.einsum("nc,cd->nd", y, self.mix)


def test_tied_unused_reused_and_other_ops():
    m = _Tricky()
    a = archlib.analyze(m, input_shape=(3, 16, 16))
    assert a.totals()["params"] == sum(p.numel() for p in m.parameters())  # tied counted once, unused counted
    assert a.totals()["macs"] == flopcounter_macs(_Tricky, (3, 16, 16))
    rows = {r.name: r for r in a.rows}
    assert rows["fc2"].op == "linear" and rows["fc2"].cost.params == 8  # its weight is fc1's
    assert "act" in rows and "act@2" in rows  # one module called twice: two groups, both contiguous
    assert rows["einsum"].op == "other" and rows["einsum"].cost.macs == 8 * 4 and rows["mix"].op == "param"
    assert any("not modelled" in n and "einsum" in n for n in a.ir.notes)
    assert any(r.name.startswith("unused.") for r in a.rows)
    built = archlib.build(m, input_shape=(3, 16, 16))
    assert tuple(built(torch.randn(2, 3, 16, 16)).shape) == (2, 4)


class _PinsBatch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(48, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.view(1, -1))


def test_a_module_that_pins_the_batch_is_traced_at_batch_one():
    a = archlib.analyze(_PinsBatch(), input_shape=(3, 4, 4))
    assert a.ir.batch == 1 and a.totals()["macs"] == 48 * 4 and a.output_shape == (4,)


def test_sdpa_with_mask_and_scale():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mask", torch.ones(10, 10, dtype=torch.bool).tril())

        def forward(self, x):
            q = x.reshape(x.shape[0], 2, 10, 6)
            return F.scaled_dot_product_attention(q, q, q, attn_mask=self.mask, scale=0.5)

    a = archlib.analyze(M(), input_shape=(2, 10, 6))
    assert a.totals()["macs"] == 2 * 10 * 10 * 12 and a.totals()["buffers"] == 100
    built = archlib.build(M(), input_shape=(2, 10, 6))
    assert tuple(built(torch.randn(3, 2, 10, 6)).shape) == (3, 2, 10, 6)


@pytest.mark.parametrize("call,needle", [
    (lambda: archlib.analyze(5), "a int is not a model"),
    (lambda: archlib.analyze(nn.Linear(3, 4)), "give the per-sample input shape"),
    (lambda: archlib.analyze(nn.Linear(3, 4), input_shape=(0, 3)), "input_shape=(0, 3) is not allowed"),
    (lambda: archlib.analyze(nn.Linear(3, 4), input_shape=(3,), width=2), "unknown knob 'width'"),
    (lambda: archlib.analyze(nn.Linear(3, 4), input_shape=(5,)), "could not be traced"),
])
def test_bad_modules_and_shapes_are_one_clear_error(call, needle):
    with pytest.raises(archlib.ArchlibError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_reserved_names_cover_nn_module_attributes():
    """A child module may not be named like an attribute of nn.Module or the built model."""
    from archlib.views.torchmodel import Group, IRModel

    attrs = {n for cls in (nn.Module, Group, IRModel) for n in dir(cls) if not n.startswith("_")}
    assert attrs <= RESERVED | {"dump_patches", "T_destination", "call_super_init"}


def test_counts_are_keyed_like_the_catalogue():
    cls, shape = ZOO["resnext"]
    a = archlib.analyze(cls(), input_shape=shape)
    assert set(a.totals()) == set(COUNTS) and a.config == {"input_shape": shape}
    assert a.by_operator()["conv2d"]["macs"] + a.by_operator()["linear"]["macs"] == a.totals()["macs"]
