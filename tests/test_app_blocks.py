"""The Concepts page's building blocks are the families' own: the block the page builds from its
numbers equals, op for op and cost for cost, the block inside a registered model."""
from __future__ import annotations

import pytest

import archlib
from app.concepts import blocks
from archlib.core.cost import op_cost

# (model, block in it, the Concepts builder, its arguments: M, N, t, k, D_F as that block has them)
SAME = [
    ("efficientnet_b0", "s2.b2", blocks.mbconv, (24, 24, 6, 3, 56, 0.25)),
    ("efficientnet_b0", "s1.b1", blocks.mbconv, (32, 16, 1, 3, 112, 0.25)),  # t = 1: no expansion
    ("efficientnet_b3", "s5.b2", blocks.mbconv, (136, 136, 6, 5, 19, 0.25)),  # SE 136 // 4 = 34
    ("mobilenet_v2", "s2.b2", blocks.inverted_residual, (24, 24, 6, 56)),
    ("mobilenet_v2", "s1.b1", blocks.inverted_residual, (32, 16, 1, 112)),
    ("efficientnet_v2_s", "s2.b2", blocks.fused_mbconv, (48, 48, 4, 3, 96)),
    ("efficientnet_v2_s", "s1.b2", blocks.fused_mbconv, (24, 24, 1, 3, 192)),  # t = 1: one kxk conv
    ("squeezenet1_0", "s1.b1", blocks.fire, (96, 16, 64, 64, 54)),
    ("shufflenet_v1_g3", "s2.b2", blocks.shuffle_unit, (480, 3, 14)),
]


def _ops(ir, prefix: str = ""):
    return [(op.name[len(prefix):], op.kind, op.in_shapes, op.out_shape, dict(op.attrs), op_cost(op))
            for op in ir.ops if op.name.startswith(prefix)]


@pytest.mark.parametrize("model,block,build,args", SAME, ids=[f"{m}-{b}" for m, b, _, _ in SAME])
def test_concepts_block_is_the_family_block(model, block, build, args):
    ours, theirs = _ops(build(*args).ir), _ops(archlib.lower(model), block + ".")
    assert ours and ours == theirs


def test_mbconv_squeezes_se_as_efficientnet_does():
    """SE squeeze = max(1, M // 4) at EfficientNet's 0.25 (of the block input, not the expanded width)."""
    for m in (3, 30, 33, 136):
        fc1 = next(op for op in blocks.mbconv(m, m, 6, 3, 8, 0.25).ir.ops if op.name == "se.fc1")
        assert fc1.out_shape[0] == max(1, m // 4)
    assert not any(op.name.startswith("se.") for op in blocks.mbconv(32, 32, 6, 3, 8, 0.0).ir.ops)


@pytest.mark.parametrize("t", [1, 4])
def test_fused_mbconv_outputs_n_channels(t):
    m, n, k, size = 32, 64, 3, 56
    a = blocks.fused_mbconv(m, n, t, k, size)
    assert a.output_shape == (n, size, size)
    hidden = m * t if t > 1 else n
    expected = size * size * hidden * m * k * k + (size * size * n * hidden if t > 1 else 0)
    assert a.totals()["macs"] == expected
