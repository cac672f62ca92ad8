"""Torch modules of the attention op kinds (see archlib.core.attention) and the random features.

archlib.views.leaves builds the attention op kinds from these modules, like any other kind. Both
attentions are written with explicit `torch.matmul` (never scaled_dot_product_attention)
so that FlopCounterMode and fvcore count exactly the matmuls the cost model counts.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from archlib.core.attention import FEATURE_KINDS
from archlib.errors import ArchlibError


def gaussian_features(m: int, d: int, kind: str = "orthogonal", *, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An (m, d) matrix of random feature directions w_i, each marginally N(0, I_d).

    iid: independent Gaussian rows. orthogonal: blocks of d exactly orthogonal rows (QR of
    a Gaussian matrix, signs fixed so each block is Haar-distributed), row norms drawn
    from chi(d) as in the Performers paper, so every row is still N(0, I_d).
    Drawn on the CPU whatever the default device (a meta model gets a copy of nothing).
    """
    if kind not in FEATURE_KINDS:
        raise ArchlibError(f"feature_kind={kind!r} is not allowed: feature_kind must be one of "
                           f"{', '.join(FEATURE_KINDS)}.")
    cpu = {"device": "cpu", "dtype": torch.float64, "generator": generator}
    if kind == "iid":
        return torch.randn(m, d, **cpu).to(dtype)
    # numpy's QR: torch's (MKL) stalled for up to a second on a busy 2-core host
    q, r = np.linalg.qr(torch.randn(math.ceil(m / d), d, d, **cpu).numpy())
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    rows = torch.from_numpy(np.ascontiguousarray(q.transpose(0, 2, 1))).reshape(-1, d)[:m]
    norms = torch.randn(m, d, **cpu).norm(dim=1, keepdim=True)
    return (rows * norms).to(dtype)


def positive_features(x: torch.Tensor, w: torch.Tensor, *, stabilize: str | None = None) -> torch.Tensor:
    """phi(x) = exp(w_i . x - |x|^2 / 2) / sqrt(m): E[phi(x) . phi(y)] = exp(x . y).

    `stabilize` ("row" or "all") subtracts the max logit per row or over the last two
    axes first; a constant factor that cancels in attention's normalisation.
    """
    logits = torch.matmul(x, w.t()) - (x * x).sum(dim=-1, keepdim=True) / 2
    if stabilize == "row":
        logits = logits - logits.amax(dim=-1, keepdim=True).detach()
    elif stabilize == "all":
        logits = logits - logits.amax(dim=(-2, -1), keepdim=True).detach()
    return torch.exp(logits) / math.sqrt(w.shape[0])


def _split(qkv: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, L, 3D) -> q, k, v of shape (N, H, L, dh) (torch's in_proj layout: q | k | v)."""
    n, length, three_d = qkv.shape
    q, k, v = qkv.reshape(n, length, 3, heads, three_d // (3 * heads)).permute(2, 0, 3, 1, 4).unbind(0)
    return q, k, v


def _merge(x: torch.Tensor) -> torch.Tensor:
    n, h, length, dh = x.shape
    return x.transpose(1, 2).reshape(n, length, h * dh)


class SoftmaxAttention(nn.Module):
    """softmax(Q K^T / sqrt(dh)) V per head, on a fused q|k|v input."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.dim, self.heads = dim, heads

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        q, k, v = _split(qkv, self.heads)
        scores = torch.matmul(q * (q.shape[-1] ** -0.5), k.transpose(-2, -1))
        return _merge(torch.matmul(scores.softmax(dim=-1), v))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}"


class FavorAttention(nn.Module):
    """FAVOR+: softmax attention estimated with m positive random features, linear in L.

    The (m, dh) projection is a buffer shared by the heads; `redraw_features` draws it
    anew (under no_grad), and with `redraw` set every training forward does.
    """

    def __init__(self, dim: int, heads: int, features: int, feature_kind: str = "orthogonal",
                 redraw: bool = False) -> None:
        super().__init__()
        self.dim, self.heads, self.features = dim, heads, features
        self.feature_kind, self.redraw = feature_kind, redraw
        self.register_buffer("projection", torch.empty(features, dim // heads))
        self.redraw_features()

    @torch.no_grad()
    def redraw_features(self, generator: torch.Generator | None = None) -> None:
        if self.projection.is_meta:  # a model built only to be counted holds no values
            return
        w = gaussian_features(self.features, self.dim // self.heads, self.feature_kind, generator=generator)
        self.projection.copy_(w.to(self.projection.dtype))

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        if self.redraw and self.training:
            self.redraw_features()
        q, k, v = _split(qkv, self.heads)
        return _merge(favor(q, k, v, self.projection))

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, heads={self.heads}, features={self.features}, "
                f"feature_kind={self.feature_kind}, redraw={self.redraw}")


def favor(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """FAVOR+ attention of (..., L, dh) q, k, v with feature directions w (m, dh)."""
    scale = q.shape[-1] ** -0.25  # q.k / sqrt(dh) = (q dh^-1/4) . (k dh^-1/4)
    qf = positive_features(q * scale, w, stabilize="row")
    kf = positive_features(k * scale, w, stabilize="all")
    kv = torch.matmul(kf.transpose(-2, -1), v)
    num = torch.matmul(qf, kv)
    den = torch.matmul(qf, kf.sum(dim=-2).unsqueeze(-1))
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def softmax_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Exact softmax attention of (..., L, dh) q, k, v."""
    scores = torch.matmul(q * (q.shape[-1] ** -0.5), k.transpose(-2, -1))
    return torch.matmul(scores.softmax(dim=-1), v)


class ToTokens(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class ClsToken(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)


class PosEmbed(nn.Module):
    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(1, tokens, dim).normal_(std=0.02))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding


class TakeToken(nn.Module):
    def __init__(self, index: int = 0) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]
