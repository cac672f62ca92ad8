"""Attention as IR ops: token ops, softmax attention and FAVOR+ (Performers), with their costs.

Op kinds added here (shapes per sample, no batch axis; H heads, head dim dh = D / H):
- `to_tokens`   (C, h, w) -> (h*w, C): the patch grid as a token sequence.
- `cls_token`   (L, D) -> (L+1, D): prepend a learned class token (D params).
- `pos_embed`   (L, D) -> (L, D): add a learned position embedding (L*D params).
- `take_token`  (L, D) -> (D,): the class token's row.
- `attention`   (L, 3D) -> (L, D): softmax attention on a fused q|k|v tensor.
  macs = 2 L^2 D (Q K^T and A V); exact, O(L^2 d).
- `favor`       (L, 3D) -> (L, D): FAVOR+ (Choromanski et al. 2021) with m positive random
  features shared by the heads. macs = H (2 L m dh + 2 L m dh + L m): the feature maps of
  q and k, K'^T V, Q' (K'^T V), and the normaliser Q' (K'^T 1); linear in L, O(L m d).

Conventions are archlib.core.cost's. Elementwise: softmax attention counts its softmax (H L^2)
and the 1/sqrt(dh) scale (L D); FAVOR+ counts the exponentials of both feature maps
(2 H L m) and the division by the normaliser (L D). Activations are the outputs of every
matmul inside the op (the H L^2 score matrix for softmax attention), so they show what
each attention holds in memory. fvcore counts exactly the macs (aten::matmul).

This module imports no torch: the torch modules live in archlib.views.attention_torch.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from archlib.core.cost import OpCost, op_cost, plain, register_kind
from archlib.core.ir import IRBuilder, Op
from archlib.errors import ArchlibError

ATTENTIONS = ("softmax", "performer")
FEATURE_KINDS = ("orthogonal", "iid")


def default_features(head_dim: int) -> int:
    """m = floor(dh ln dh), the Performers paper's m = Theta(d log d) (110 for dh = 32)."""
    return max(1, int(head_dim * math.log(head_dim)))


# -- IR helpers ---------------------------------------------------------------
def to_tokens(b: IRBuilder, name: str, x: str) -> str:
    c, h, w = b.shape(x)
    return b.emit(name, "to_tokens", [x], (h * w, c))


def cls_token(b: IRBuilder, name: str, x: str) -> str:
    n, d = b.shape(x)
    return b.emit(name, "cls_token", [x], (n + 1, d), dim=d)


def pos_embed(b: IRBuilder, name: str, x: str) -> str:
    n, d = b.shape(x)
    return b.emit(name, "pos_embed", [x], (n, d), tokens=n, dim=d)


def take_token(b: IRBuilder, name: str, x: str, index: int = 0) -> str:
    n, d = b.shape(x)
    return b.emit(name, "take_token", [x], (d,), index=index)


def _split_heads(name: str, qkv_shape: tuple[int, ...], heads: int) -> tuple[int, int]:
    n, three_d = qkv_shape
    dim = three_d // 3
    if three_d % 3 or dim % heads:
        raise ArchlibError(f"{name}: a q|k|v width of {three_d} is not allowed with heads={heads}: "
                           "it must be 3 x a multiple of heads.")
    return n, dim


def softmax_attention(b: IRBuilder, name: str, qkv: str, heads: int) -> str:
    """Exact softmax attention over the fused q|k|v tensor (L, 3D) -> (L, D)."""
    n, dim = _split_heads(name, b.shape(qkv), heads)
    return b.emit(name, "attention", [qkv], (n, dim), dim=dim, heads=heads)


def favor_attention(b: IRBuilder, name: str, qkv: str, heads: int, features: int, *,
                    feature_kind: str = "orthogonal", redraw: bool = False) -> str:
    """FAVOR+ attention with `features` positive random features (L, 3D) -> (L, D)."""
    n, dim = _split_heads(name, b.shape(qkv), heads)
    if feature_kind not in FEATURE_KINDS:
        raise ArchlibError(f"feature_kind={feature_kind!r} is not allowed: feature_kind must be one of "
                           f"{', '.join(FEATURE_KINDS)}.")
    if isinstance(features, bool) or not (isinstance(features, int) and features >= 1):
        raise ArchlibError(f"features={features!r} is not allowed: features must be an integer >= 1.")
    return b.emit(name, "favor", [qkv], (n, dim), dim=dim, heads=heads, features=features,
                  feature_kind=feature_kind, redraw=bool(redraw))


# -- costs --------------------------------------------------------------------
def _softmax_cost(op: Op) -> OpCost:
    n, dim, h = op.out_shape[0], op.attrs["dim"], op.attrs["heads"]
    macs = 2 * n * n * dim
    return OpCost(0, 0, macs, h * n * n + n * dim, h * n * n + n * dim, n * dim, macs)


def _softmax_memory(op: Op) -> tuple[int, int]:
    """While it runs: the scores and their softmax (2 H L^2, alive together: the softmax is
    computed from the scores) and A V before its heads are merged (L D). Kept for the backward
    pass: the softmax (H L^2) and the scaled q (L D)."""
    n, dim, h = op.out_shape[0], op.attrs["dim"], op.attrs["heads"]
    return 2 * h * n * n + n * dim, h * n * n + n * dim


def _favor_cost(op: Op) -> OpCost:
    n, dim, h, m = op.out_shape[0], op.attrs["dim"], op.attrs["heads"], op.attrs["features"]
    dh = dim // h
    macs = h * (4 * n * m * dh + n * m)
    acts = h * (2 * n * m + m * dh + n * dh + n)
    return OpCost(0, m * dh, macs, 2 * h * n * m + n * dim, acts, n * dim, macs)


def _favor_memory(op: Op) -> tuple[int, int]:
    """While it runs: q's features (H L m) alive while k's are computed from their logits (up to
    three H L m at once), K'^T V, the normaliser, the scaled q or k and A V before merging.
    Kept for the backward pass, per feature map: the logits (for their max), the exponentials
    and the features (3 H L m); K'^T V, the normaliser and the scaled q and k."""
    n, dim, h, m = op.out_shape[0], op.attrs["dim"], op.attrs["heads"], op.attrs["features"]
    rest = m * dim + h * n  # K'^T V (H m dh) and the normaliser (H L)
    return 4 * h * n * m + rest + 3 * n * dim, 6 * h * n * m + rest + 2 * n * dim


_MODULES = "archlib.views.leaves"
register_kind("to_tokens", plain, f"{_MODULES}:to_tokens", view=True)
register_kind("take_token", plain, f"{_MODULES}:take_token", view=True)
register_kind("cls_token", lambda op: plain(op, params=op.attrs["dim"]), f"{_MODULES}:cls_token")
register_kind("pos_embed", lambda op: plain(op, params=math.prod(op.out_shape), elementwise=math.prod(op.out_shape)),
              f"{_MODULES}:pos_embed")
register_kind("attention", _softmax_cost, f"{_MODULES}:attention", fvcore="matmul", memory=_softmax_memory)
register_kind("favor", _favor_cost, f"{_MODULES}:favor", fvcore="matmul", memory=_favor_memory)


# -- cost against sequence length (the Performers page) -------------------------
@dataclass(frozen=True)
class AttentionPoint:
    """The cost of one attention op at one sequence length, per sample."""

    attention: str
    tokens: int
    macs: int
    activations: int
    buffers: int

    def memory_bytes(self, dtype_bytes: int = 4) -> int:
        """Bytes of the op's matmul outputs and random features, in a dtype of `dtype_bytes`."""
        return (self.activations + self.buffers) * dtype_bytes


def attention_op(attention: str, tokens: int, *, dim: int, heads: int, features: int,
                 feature_kind: str = "orthogonal") -> Op:
    """The IR op of one attention (`softmax` or `performer`) on `tokens` tokens."""
    if attention not in ATTENTIONS:
        raise ArchlibError(f"attention={attention!r} is not allowed: attention must be one of "
                           f"{', '.join(ATTENTIONS)}.")
    b = IRBuilder((tokens, 3 * dim))
    if attention == "softmax":
        softmax_attention(b, "attn", b.input, heads)
    else:
        favor_attention(b, "attn", b.input, heads, features, feature_kind=feature_kind)
    return b.finish().ops[0]


def attention_point(attention: str, tokens: int, *, dim: int, heads: int, features: int) -> AttentionPoint:
    c = op_cost(attention_op(attention, tokens, dim=dim, heads=heads, features=features))
    return AttentionPoint(attention, tokens, c.macs, c.activations, c.buffers)


def cost_curve(tokens: Iterable[int], *, dim: int, heads: int, features: int) -> list[AttentionPoint]:
    """Both attentions' costs at every sequence length in `tokens`."""
    return [attention_point(a, n, dim=dim, heads=heads, features=features)
            for n in tokens for a in ATTENTIONS]


def crossover_tokens(head_dim: int, features: int) -> int:
    """The fewest tokens at which FAVOR+ takes fewer MACs than softmax attention.

    Per head: softmax 2 L^2 dh, FAVOR+ L m (4 dh + 1); FAVOR+ is cheaper when
    L > m (4 dh + 1) / (2 dh).
    """
    return features * (4 * head_dim + 1) // (2 * head_dim) + 1


def memory_crossover_tokens(*, dim: int, heads: int, features: int, limit: int = 1 << 20) -> int | None:
    """The fewest tokens at which FAVOR+ holds less than softmax attention (None past `limit`)."""
    lo, hi = 1, limit
    if _memory_gap(hi, dim, heads, features) >= 0:
        return None
    while lo < hi:  # the gap is positive and then negative as L grows (quadratic vs linear)
        mid = (lo + hi) // 2
        if _memory_gap(mid, dim, heads, features) < 0:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _memory_gap(tokens: int, dim: int, heads: int, features: int) -> int:
    """Favor minus softmax memory at `tokens` (negative once FAVOR+ holds less)."""
    f = attention_point("performer", tokens, dim=dim, heads=heads, features=features)
    s = attention_point("softmax", tokens, dim=dim, heads=heads, features=features)
    return f.memory_bytes() - s.memory_bytes()
