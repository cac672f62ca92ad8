"""Performer: FAVOR+ against softmax attention: cost and crossover, latency here, approximation error."""
from __future__ import annotations

import math

import streamlit as st

from app.performer import charts, parts, study
from archlib.core.analysis import human

st.title("Performers: FAVOR+ against softmax attention")
st.caption("Softmax attention builds the N x N score matrix: O(N² d) MACs and memory. FAVOR+ (Choromanski et al. "
           "2021) estimates it with m positive random features, SM(x, y) = E_w[exp(w·x − |x|²/2) "
           "exp(w·y − |y|²/2)], w ~ N(0, I): O(N m d). Counts are archlib's, per attention layer and sample; "
           "they equal FlopCounterMode's.")
view = parts.control("view", "Show", style="pills", format_func=parts.VIEWS.get)
cols = st.columns(4)
head_dim = parts.control("head_dim", "Head dim d_h", container=cols[0], style="number")
heads = parts.control("heads", "Heads", container=cols[1], style="number")
m = parts.control("features", "Features m", container=cols[2], style="number")
max_tokens = parts.control("max_tokens", "Longest sequence (tokens)", container=cols[3], style="number")

if view == "cost":
    c = st.columns(3)
    axis = parts.control("axis", "x axis", container=c[0], style="pills")
    patch = parts.control("patch", "Patch (image axis)", container=c[1], style="number", disabled=axis != "image")
    dtype = parts.control("dtype", "Memory dtype", container=c[2])
    rows = parts.cost_rows(axis, patch, max_tokens, head_dim, heads, m, dtype)
    cross = parts.crossovers(head_dim, heads, m)
    to_x = (lambda n: n) if axis == "tokens" else (lambda n: patch * math.sqrt(n))
    k = st.columns(3)
    k[0].metric("MACs crossover", f"{cross['macs']:,} tokens",
                help="The fewest tokens at which FAVOR+ takes fewer MACs: L > m (4 d_h + 1) / (2 d_h).")
    k[1].metric("Memory crossover", f"{cross['memory']:,} tokens" if cross["memory"] else "none",
                help="The fewest tokens at which FAVOR+ holds fewer bytes (matmul outputs and features).")
    last = {r["attention"]: r["macs"] for r in rows if r["tokens"] == rows[-1]["tokens"]}
    k[2].metric(f"At {rows[-1]['tokens']:,} tokens", f"{last['softmax'] / last['performer']:.1f}x",
                help="Softmax attention's MACs over FAVOR+'s at the longest sequence charted.")
    for metric in ("macs", "memory"):
        xs = to_x(cross[metric]) if cross[metric] and cross[metric] <= rows[-1]["tokens"] else None
        st.plotly_chart(charts.cost(rows, metric, axis, xs), key=f"performer.{metric}", width="stretch")
    st.caption(f"Tokens are patch tokens: (side / patch)². Memory: the op's matmul outputs (softmax: the "
               f"{heads} x N x N scores) and FAVOR+'s m x d_h features, in {dtype}. Softmax MACs 2 N² d, "
               f"FAVOR+ {heads} x (4 N m d_h + N m). E.g. {human(2 * 3136 ** 2 * head_dim * heads)} vs "
               f"{human(heads * (4 * 3136 * m * head_dim + 3136 * m))} MACs at 3,136 tokens.")
elif view == "latency":
    lengths = parts.latency_tokens(heads, max_tokens)
    st.write(f"Times one attention layer (d = {head_dim * heads}, {heads} heads, m = {m}) at "
             f"{', '.join(map(str, lengths))} tokens, batch 1, one thread, under this host's measurement lock.")
    if st.button("Measure on this CPU", icon=":material/timer:", disabled=not lengths):
        parts.measure(head_dim, heads, m, max_tokens)
    done = st.session_state.get(parts.LATENCY, {}).get((head_dim, heads, m, max_tokens))
    if done:
        st.plotly_chart(charts.latency(done[0]), key="performer.latency", width="stretch")
        st.caption(f"Measured on {done[1]} with torch.utils.benchmark (median and IQR over blocks of runs).")
else:
    c = st.columns(4)
    source = parts.control("source", "Inputs", container=c[0], style="pills")
    if source == "random":
        parts.control("tokens", "Tokens", container=c[1], style="number")
        parts.control("scale", "q, k std", container=c[2])
    else:
        parts.control("vit", "ViT", container=c[1])
        parts.control("block", "Block", container=c[2], style="number")
    seeds = parts.control("seeds", "Seeds", container=c[3], style="number")
    studied = study.run((source, parts.value("tokens"), head_dim, parts.value("scale"), seeds, parts.value("vit"),
                      parts.value("block")))
if view == "error" and studied:
    rows, what = studied
    st.plotly_chart(charts.error(rows, m), key="performer.error", width="stretch")
    mean = {kind: sum(r["mean"] for r in rows if r["kind"] == kind) / len(study.ERROR_FEATURES)
            for kind in ("orthogonal", "iid")}
    st.caption(f"Inputs: {what}. Each point: {seeds} feature draws (seeds 0..{seeds - 1}), the relative "
               f"Frobenius error of the attention output, computed for real in float64. Averaged over m: "
               f"orthogonal {mean['orthogonal']:.3f}, iid {mean['iid']:.3f}. The positive features are heavy-tailed: "
               "one unlucky draw can dominate a mean, hence the spread.")

parts.publish({p.name: parts.value(p.name) for p in parts.PARAMS})
