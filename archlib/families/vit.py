"""Vision Transformer (Dosovitskiy et al. 2021) with softmax or Performer (FAVOR+) attention.

The structure is torchvision's `vit_b_16`: a strided conv patch embedding (with bias), a
class token and a learned position embedding, pre-norm encoder blocks (LayerNorm eps 1e-6,
fused q|k|v projection with bias as nn.MultiheadAttention's in_proj, output projection,
MLP D -> ratio*D -> D with GELU), a final LayerNorm and a linear head on the class token.
DeiT (Touvron et al. 2021) is the same network at other widths (its Table 1).
`attention=performer` swaps every softmax attention for FAVOR+ (Choromanski et al. 2021).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlib.core import attention as att
from archlib.core.ir import IR, IRBuilder
from archlib.core.knobs import Knob, num_classes, resolution
from archlib.core.registry import Family, register
from archlib.errors import ArchlibError


@dataclass(frozen=True)
class Block:
    """One encoder block's sizes."""

    dim: int
    heads: int
    hidden: int
    attention: str
    features: int
    feature_kind: str
    redraw: bool


def encoder_block(b: IRBuilder, x: str, blk: Block) -> str:
    """x + attn(ln1(x)), then + mlp(ln2(.)), named ln1/qkv/attn/proj/add1/ln2/fc1/act/fc2/add2."""
    y = b.linear("qkv", b.layernorm("ln1", x, eps=1e-6), 3 * blk.dim)
    if blk.attention == "softmax":
        y = att.softmax_attention(b, "attn", y, blk.heads)
    else:
        y = att.favor_attention(b, "attn", y, blk.heads, blk.features, feature_kind=blk.feature_kind,
                                redraw=blk.redraw)
    x = b.add("add1", x, b.linear("proj", y, blk.dim))
    y = b.linear("fc1", b.layernorm("ln2", x, eps=1e-6), blk.hidden)
    y = b.linear("fc2", b.act("act", y, "gelu"), blk.dim)
    return b.add("add2", x, y)


def _block(cfg: Mapping[str, Any]) -> Block:
    dim, heads = cfg["embed_dim"], cfg["heads"]
    if dim % heads:
        raise ArchlibError(f"embed_dim={dim} is not allowed with heads={heads}: embed_dim must be a "
                           f"multiple of heads (e.g. {dim - dim % heads or heads}).")
    hidden = int(dim * cfg["mlp_ratio"])
    if hidden < 1:
        raise ArchlibError(f"mlp_ratio={cfg['mlp_ratio']} is not allowed with embed_dim={dim}: "
                           "the MLP needs at least one hidden unit.")
    features = cfg["features"] or att.default_features(dim // heads)
    return Block(dim, heads, hidden, cfg["attention"], features, cfg["feature_kind"], cfg["redraw"])


def lower(cfg: Mapping[str, Any]) -> IR:
    res, patch = cfg["resolution"], cfg["patch"]
    if res < patch:
        raise ArchlibError(f"resolution={res} is not allowed with patch={patch}: the image must hold at "
                           f"least one patch (resolution >= {patch}).")
    blk = _block(cfg)
    b = IRBuilder((3, res, res))
    with b.scope("stem"):
        x = b.conv("patch", b.input, blk.dim, patch, stride=patch, padding=0, bias=True)
        x = att.pos_embed(b, "pos", att.cls_token(b, "cls", att.to_tokens(b, "tokens", x)))
    for i in range(1, cfg["blocks"] + 1):
        with b.scope("s1", f"b{i}"):
            x = encoder_block(b, x, blk)
    with b.scope("head"):
        x = att.take_token(b, "token", b.layernorm("ln", x, eps=1e-6))
        b.linear("fc", x, cfg["num_classes"])
    return b.finish()


KNOBS = (
    resolution(224, 16, 1024),
    Knob("patch", "int", 16, "patch side in pixels (tokens = (resolution // patch)^2 + 1)", lo=2, hi=64, step=1),
    Knob("embed_dim", "int", 768, "token width D (a multiple of heads)", lo=8, hi=2048, step=8),
    Knob("blocks", "int", 12, "encoder blocks (depth)", lo=1, hi=48, step=1),
    Knob("heads", "int", 12, "attention heads (head dim = embed_dim / heads)", lo=1, hi=32, step=1),
    Knob("mlp_ratio", "float", 4.0, "MLP hidden width as a multiple of embed_dim", lo=0.25, hi=8.0, step=0.25),
    Knob("attention", "choice", "softmax", "softmax (exact, O(N^2 d)) or performer (FAVOR+, O(N m d))",
         choices=att.ATTENTIONS),
    Knob("features", "int", 0, "FAVOR+ random features m (0 = head_dim * ln(head_dim), 266 at 64)",
         lo=0, hi=4096, step=1),
    Knob("feature_kind", "choice", "orthogonal", "FAVOR+ feature directions: orthogonal blocks or iid",
         choices=att.FEATURE_KINDS),
    Knob("redraw", "bool", False, "FAVOR+: draw new random features at every training forward"),
    num_classes(),
)
FAMILY = Family("ViT", KNOBS, lower, paper="Dosovitskiy et al. 2021, arXiv:2010.11929; Performer attention: "
                "Choromanski et al. 2021, arXiv:2009.14794",
                description="Vision Transformer; softmax or Performer (FAVOR+) attention.")
# torchvision's vit_b_16 and the DeiT models (timm names; DeiT Table 1: D, heads, 12 blocks)
register(FAMILY, "vit_b_16", description="ViT-B/16 (torchvision).")
register(FAMILY, "vit_b_16_performer", attention="performer",
         description="ViT-B/16 with FAVOR+ attention (m = 266 orthogonal features).")
register(FAMILY, "deit_tiny_patch16_224", embed_dim=192, heads=3, description="DeiT-Ti (Touvron et al. 2021).")
register(FAMILY, "deit_small_patch16_224", embed_dim=384, heads=6, description="DeiT-S (Touvron et al. 2021).")
