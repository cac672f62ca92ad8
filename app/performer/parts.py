"""The Performer page's parts: its controls, the link, and the cached runs.

Its URL schema is app.ui.schema.PERFORMER_PARAMS (read by the one codec, app.ui.state);
session keys are `performer.<name>` (state.param_key).
"""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from app.ui import schema, state, widgets
from archlib.core import attention as att
from archlib.core.analysis import DTYPE_BYTES

PAGE = schema.PERFORMER
LATENCY = "performer._latency"  # {settings: [Latency, ...]} measured in this session
VIEWS = dict(zip(schema.PERFORMER_VIEWS, ("Cost vs length", "Latency here", "Approximation error")))
LATENCY_TOKENS = (64, 128, 256, 512, 1024, 2048, 4096)
PARAMS = schema.PERFORMER_PARAMS
P = {p.name: p for p in PARAMS}


def key(name: str) -> str:
    return state.param_key(PAGE, name)


def value(name: str) -> Any:
    return st.session_state.get(key(name), P[name].default)


def control(name: str, label: str, **kw: Any) -> Any:
    return widgets.control(P[name], key(name), label=label, **kw)


def publish(view: dict[str, Any]) -> None:
    """This view in the URL (only what differs from the defaults) and the link to copy."""
    model = st.session_state.get(state.MODEL, state.default_model())
    widgets.publish(state.View(PAGE, model, {}, view), PAGE, help="Opening it shows this page with these settings.")


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
