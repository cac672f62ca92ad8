"""Models exported with torch.onnx.export (onnxscript), imported back: the counts hold exactly.

MACs equal the registered analysis (our own models) or FlopCounterMode's count of the
module (plain-torch architectures). Parameters equal the file's floating-point weights,
which is the module's count less what the exporter folds away: each BatchNorm after a
bias-free convolution leaves its C shift as the conv's new bias and drops its C scale and
C shift (C fewer), after a convolution with a bias 2C fewer. Weights are randomised first,
so that no two initializers are equal (the exporter would merge them).
"""
from __future__ import annotations

import contextlib
import io

import pytest
import torch
from checks import assert_agrees_with_torch
from conftest import small_config
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torch_zoo import ZOO

import archlib
from archlib.core.ir import IR

pytestmark = pytest.mark.slow

REGISTERED = ["mobilenet_v2", "shufflenet_v2_x0_5", "deit_tiny_patch16_224", "efficientnet_b0"]


def randomised(m: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return m.eval()


def export(m: nn.Module, shape: tuple[int, ...], path, *, batch: int = 1, dynamic: bool = False) -> str:
    kw = {"dynamic_shapes": ({0: torch.export.Dim("batch", min=1, max=64)},)} if dynamic else {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(m, (torch.randn(batch, *shape),), str(path), dynamo=True, external_data=False, **kw)
    return str(path)


def folded_bn(ir: IR) -> int:
    """Parameters the exporter folds away: C per BN after a bias-free conv, 2C after one with a bias."""
    ops = ir.by_name()
    out = 0
    for op in ir.ops:
        if op.kind == "bn2d":
            src = ops[op.inputs[0]]
            assert src.kind == "conv2d", f"{op.name} follows a {src.kind}: the exporter would not fold it"
            out += op.attrs["channels"] * (2 if src.attrs["bias"] else 1)
    return out


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_models_round_trip(name, tmp_path):
    knobs = small_config(name)
    a = archlib.analyze(name, **knobs)
    path = export(randomised(archlib.build(name, **knobs)), a.input_shape, tmp_path / f"{name}.onnx")
    b = archlib.analyze(path)
    assert b.totals()["macs"] == a.totals()["macs"]
    assert b.totals()["params"] == a.totals()["params"] - folded_bn(a.ir)
    assert b.output_shape == a.output_shape and b.ir.batch == 1
    assert not [r for r in b.rows if r.op == "bn2d"]
    assert_agrees_with_torch(b)  # the module built from the file: params, and MACs per module


def _module_macs(m: nn.Module, shape) -> int:
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(torch.empty(1, *shape, device="meta"))
    return fc.get_total_flops() // 2


@pytest.mark.parametrize("arch", sorted(ZOO))
def test_plain_torch_architectures_round_trip(arch, tmp_path):
    cls, shape = ZOO[arch]
    module = randomised(cls())
    path = export(module, shape, tmp_path / f"{arch}.onnx")
    b = archlib.analyze(path)
    with torch.device("meta"):
        meta = cls().eval()
    assert b.totals()["macs"] == _module_macs(meta, shape)
    direct = archlib.analyze(module, input_shape=shape)
    assert b.totals()["params"] == direct.totals()["params"] - folded_bn(direct.ir)
    y = archlib.build(path).eval()(torch.randn(1, *shape))
    assert tuple(y.shape) == (1, *b.output_shape)


def test_a_dynamic_batch_file_builds_for_any_batch(tmp_path):
    cls, shape = ZOO["hybrid"]
    module = randomised(cls())
    path = export(module, shape, tmp_path / "hybrid_dyn.onnx", batch=2, dynamic=True)
    b = archlib.analyze(path)
    assert b.ir.batch is None
    assert b.totals()["macs"] == archlib.analyze(module, input_shape=shape).totals()["macs"]
    with torch.no_grad():
        assert tuple(archlib.build(path).eval()(torch.randn(3, *shape)).shape) == (3, 10)
