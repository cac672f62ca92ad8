"""The Performer page's parts: its URL schema, seeding and publishing, and the cached runs.

URL keys are this page's knob names (PARAMS) plus the sidebar `model`; session keys are
`performer.<name>` (state.param_key). Every value from a URL goes through Knob.parse.
"""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from app.ui import state, widgets
from archlib.core import attention as att
from archlib.core.analysis import DTYPE_BYTES
from archlib.core.knobs import Knob

PAGE = "performer"
LATENCY = "performer._latency"  # {settings: [Latency, ...]} measured in this session
VIEWS = {"cost": "Cost vs length", "latency": "Latency here", "error": "Approximation error"}
VIT_MODELS = ("deit_tiny_patch16_224", "deit_small_patch16_224", "vit_b_16")
LATENCY_TOKENS = (64, 128, 256, 512, 1024, 2048, 4096)

PARAMS: tuple[Knob, ...] = (
    Knob("view", "choice", "cost", "what the page shows", choices=tuple(VIEWS)),
    Knob("head_dim", "int", 32, "head dimension d_h", lo=4, hi=256, step=1),
    Knob("heads", "int", 1, "attention heads (MACs and memory grow with them)", lo=1, hi=16, step=1),
    Knob("features", "int", 110, "FAVOR+ random features m (d_h ln d_h = 110 at d_h = 32)", lo=1, hi=1024, step=1),
    Knob("axis", "choice", "tokens", "x axis: tokens, or image side at the patch size ((side / patch)^2 tokens)",
         choices=("tokens", "image")),
    Knob("patch", "int", 16, "patch side in pixels, for the image axis", lo=2, hi=64, step=1),
    Knob("max_tokens", "int", 16384, "the longest sequence charted and timed", lo=256, hi=1_048_576, step=1),
    Knob("dtype", "choice", "float32", "number format of the memory estimate", choices=tuple(DTYPE_BYTES)),
    Knob("source", "choice", "random", "inputs of the error study: random q, k, v or a built ViT's own",
         choices=("random", "vit")),
    Knob("tokens", "int", 196, "tokens of the random inputs", lo=8, hi=1024, step=1),
    Knob("scale", "float", 0.5, "standard deviation of the random q and k entries", lo=0.05, hi=2.0, step=0.05),
    Knob("seeds", "int", 8, "feature draws per point (mean and spread)", lo=2, hi=32, step=1),
    Knob("vit", "choice", VIT_MODELS[0], "the ViT (random weights, random image) whose q, k, v are used",
         choices=VIT_MODELS),
    Knob("block", "int", 1, "the ViT block whose q, k, v are used", lo=1, hi=12, step=1),
)
P = {p.name: p for p in PARAMS}


def key(name: str) -> str:
    return state.param_key(PAGE, name)


def seed_from_url() -> None:
    """On this page's first run in a session: its URL values into session state, each parsed
    by its Knob; a bad value or an unknown key gets a message, and the default stays."""
    widgets.seed_page_params(PAGE, P, flag_unknown=True)


def value(name: str) -> Any:
    return st.session_state.get(key(name), P[name].default)


def control(name: str, label: str, **kw: Any) -> Any:
    return widgets.control(P[name], key(name), label=label, **kw)


def publish(view: dict[str, Any]) -> None:
    """This view in the URL (only what differs from the defaults) and the link to copy."""
    query = {state.MODEL: st.session_state.get(state.MODEL, state.default_model())} | widgets.changed(view, P)
    widgets.publish_query(query, PAGE, help="Opening it shows this page with these settings.")


# -- what the charts show ------------------------------------------------------------
def grid(axis: str, patch: int, max_tokens: int) -> list[tuple[float, int]]:
    """(x, tokens) points: tokens on a log grid, or image sides (multiples of the patch)."""
    if axis == "image":
        sides = range(1, math.isqrt(max_tokens) + 1)
        return [(patch * s, s * s) for s in sides]
    n = sorted({int(round(16 * (max_tokens / 16) ** (i / 80))) for i in range(81)} | {max_tokens})
    return [(t, t) for t in n if t >= 1]


@st.cache_data(max_entries=64, show_spinner=False)
def cost_rows(axis: str, patch: int, max_tokens: int, head_dim: int, heads: int, features: int,
              dtype: str) -> list[dict[str, Any]]:
    """One row per (x, attention): tokens, MACs, memory bytes."""
    rows = []
    for x, n in grid(axis, patch, max_tokens):
        for p in att.cost_curve([n], dim=head_dim * heads, heads=heads, features=features):
            rows.append({"x": x, "tokens": n, "attention": p.attention, "macs": p.macs,
                         "memory": p.memory_bytes(DTYPE_BYTES[dtype])})
    return rows


def crossovers(head_dim: int, heads: int, features: int) -> dict[str, int | None]:
    return {"macs": att.crossover_tokens(head_dim, features),
            "memory": att.memory_crossover_tokens(dim=head_dim * heads, heads=heads, features=features)}


def latency_tokens(heads: int, max_tokens: int) -> list[int]:
    """The lengths timed: LATENCY_TOKENS up to max_tokens and the score-matrix bound."""
    from archlib.performer import MAX_SCORE_ELEMS

    return [t for t in LATENCY_TOKENS if t <= max_tokens and heads * t * t <= MAX_SCORE_ELEMS]


def measure(head_dim: int, heads: int, features: int, max_tokens: int) -> None:
    """Time both attentions at every length (on a click), with a progress bar."""
    from archlib import performer

    lengths = latency_tokens(heads, max_tokens)
    bar = st.progress(0.0, text="Timing...")
    out = []
    for i, n in enumerate(lengths):
        for a in att.ATTENTIONS:
            out.append(performer.measure_latency(a, n, dim=head_dim * heads, heads=heads, features=features,
                                                 min_run_time=0.1))
        bar.progress((i + 1) / len(lengths), text=f"Timed {n} tokens")
    bar.empty()
    st.session_state.setdefault(LATENCY, {})[(head_dim, heads, features, max_tokens)] = (out, performer.host())
