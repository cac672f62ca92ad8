"""The Performer page's approximation-error study, bounded like every heavy view.

Its cost is estimated before anything runs (archlib.performer.error_point_cost for each of
the 16 points, plus the ViT's forward for its own q, k, v): a study estimated under
AUTO_SECONDS runs at once; a dearer one runs on a click, point by point with a progress bar
and a Stop button (finished points stay cached, so Run resumes); one estimated past
MAX_SECONDS is refused with the limit named. Each point is admitted by the process's
heavy-work gate (archlib.hardware.gate), so studies in several sessions run one at a time.
"""
from __future__ import annotations

import contextlib
from typing import Any

import streamlit as st

import archlib
from archlib.core.attention import FEATURE_KINDS

ERROR_FEATURES = (4, 8, 16, 32, 64, 128, 256, 512)
#: estimated seconds under which a study runs without a click, and past which it is refused
AUTO_SECONDS = 3.0
MAX_SECONDS = 120.0
#: a pessimistic float64 rate on one thread of a busy host (1.5-7 GMAC/s measured on the 2-core dev host)
MACS_PER_S = 1e9
#: time per orthogonal feature draw beyond its MACs (a 256 x 256 QR took 0.02 s here; 0.4 s when stalled)
DRAW_S = 0.01
RUN = "performer._study"  # the study the user asked to run (a Study tuple)

#: (source, tokens, head_dim, scale, seeds, vit, block): what decides a study's numbers
Study = tuple[str, int, int, float, int, str, int]


def shape(study: Study) -> tuple[int, int, int]:
    """(heads, tokens, head_dim) of the study's q, k, v."""
    source, tokens, head_dim, _, _, vit, _ = study
    if source != "vit":
        return 1, tokens, head_dim
    cfg = archlib.config(vit)
    return cfg["heads"], (cfg["resolution"] // cfg["patch"]) ** 2 + 1, cfg["embed_dim"] // cfg["heads"]


def points() -> list[tuple[str, int]]:
    return [(kind, m) for kind in FEATURE_KINDS for m in ERROR_FEATURES]


def cost(study: Study) -> dict[str, float]:
    """MACs, estimated seconds here and peak bytes of the whole study."""
    from archlib.performer import error_point_cost

    heads, tokens, head_dim = shape(study)
    seeds = study[4]
    macs = nbytes = 0
    for kind, m in points():
        c, b = error_point_cost(tokens, head_dim, heads=heads, features=m, seeds=seeds, feature_kind=kind)
        macs, nbytes = macs + c, max(nbytes, b)
    if study[0] == "vit":
        macs += archlib.analyze(study[5]).totals()["macs"]
    draws = seeds * len(ERROR_FEATURES) if "orthogonal" in FEATURE_KINDS else 0
    return {"macs": macs, "seconds": macs / MACS_PER_S + draws * DRAW_S, "bytes": nbytes}


@st.cache_resource(max_entries=4, show_spinner=False)
def inputs(source: str, tokens: int, head_dim: int, scale: float, vit: str, block: int) -> tuple[Any, str]:
    """((q, k, v), a sentence saying what they are): random, or a built ViT's own."""
    from archlib import performer

    if source == "vit":
        q, k, v = performer.vit_qkv(vit, block=block)
        return (q, k, v), (f"{vit}'s block {block}: q, k, v of {q.shape[0]} heads x {q.shape[1]} tokens x d_h "
                           f"{q.shape[2]} (random weights, random image)")
    q, k, v = performer.random_qkv(tokens, head_dim, scale=scale)
    return (q, k, v), f"random q, k ~ N(0, {scale:g}^2), v ~ N(0, 1): {tokens} tokens x d_h {head_dim}"


@st.cache_data(max_entries=512, show_spinner=False)
def point(study: Study, kind: str, m: int) -> dict[str, Any]:
    """One point of the curve: FAVOR+'s error at m features of `kind`, over the study's seeds."""
    from archlib import performer

    source, tokens, head_dim, scale, seeds, vit, block = study
    (q, k, v), _ = inputs(source, tokens, head_dim, scale, vit, block)
    s = performer.approximation_error(q, k, v, features=m, feature_kind=kind, seeds=range(seeds))
    return {"features": s.features, "kind": s.feature_kind, "mean": s.mean, "std": s.std}


def run(study: Study) -> tuple[list[dict[str, Any]], str] | None:
    """The study's rows and inputs sentence, or None while it waits for a click (or is refused)."""
    c = cost(study)
    where = f"about {c['macs'] / 1e9:,.1f} GMACs in float64, roughly {c['seconds']:,.0f} s here"
    if c["seconds"] > MAX_SECONDS:
        st.error(f"This study is refused: {where}; at most {MAX_SECONDS:.0f} s of work is run per view. Lower "
                 "the seeds, the tokens or d_h.", icon=":material/block:")
        return None
    on_click = c["seconds"] > AUTO_SECONDS
    if on_click and st.session_state.get(RUN) != study:
        st.info(f"This study costs {where}: it runs when you ask, {len(points())} points with a progress bar; "
                "Stop keeps the points already done.", icon=":material/hourglass_top:")
        if st.button("Run the study", icon=":material/play_arrow:", type="primary"):
            st.session_state[RUN] = study
            st.rerun()
        return None
    slot = st.empty()
    with slot.container():
        bar = st.progress(0.0, text="Running FAVOR+ and exact softmax attention…")
        if on_click:
            st.button("Stop", icon=":material/stop:", on_click=lambda: st.session_state.pop(RUN, None))
        with st.spinner("Preparing q, k, v…") if study[0] == "vit" else contextlib.nullcontext():
            _, what = inputs(*study[:4], *study[5:])
        rows = []
        for i, (kind, m) in enumerate(points()):
            rows.append(point(study, kind, m))
            bar.progress((i + 1) / len(points()), text=f"{kind} features, m = {m}: done {i + 1} of {len(points())}")
    slot.empty()
    return rows, what
