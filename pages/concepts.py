"""Concepts: the seed's measures of efficiency and building blocks, each with a live example."""
from __future__ import annotations

import streamlit as st

from app.concepts import parts as cp
from app.ui import charts, state, widgets

PAGE = state.CONCEPTS
P = widgets.params(PAGE)

st.title("Concepts", anchor=False)
st.caption("The measures and building blocks of efficient networks. Every number is archlib's count of the "
           "block built as a tiny network; change the sizes and they follow.")

with st.container(border=True):
    st.subheader("Measures of efficiency", anchor=False)
    st.markdown(
        "- **Parameters**: model size, `sum(p.numel() for p in model.parameters())`.\n"
        "- **MACs** (multiply-accumulates, the papers' *Mult-Adds* or *FLOPs*) of conv, linear and matmul ops; "
        "**FLOPs** = 2 × MACs.\n"
        "- **Activations**: output elements of conv/linear/matmul ops, a proxy for memory traffic (RegNet).\n"
        "- **Memory**, **latency**, **power**: hardware-specific; measure them on the target.\n\n"
        "The seed counted a LeNet with fvcore's `FlopCountAnalysis`; archlib reproduces it without running it:")
    cp.seed_example()

st.subheader("Sizes", anchor=False)
c = st.columns(4)
m = cp.pick("cin", P, c[0], label="M input channels", style="number")
n = cp.pick("cout", P, c[1], label="N output channels", style="number")
k = cp.pick("k", P, c[2], label="D_K kernel")
size = cp.pick("size", P, c[3], label="D_F feature map", style="number")
params = {"cin": m, "cout": n, "k": k, "size": size}


def separable() -> None:
    std, sep = cp.block("standard", m, n, k, size), cp.block("separable", m, n, k, size)
    ts, tp = std.totals(), sep.totals()
    st.markdown("A standard $D_K\\times D_K$ convolution costs $D_K^2 M N D_F^2$ MACs. MobileNet splits it into "
                "a depthwise $D_K\\times D_K$ filter per channel ($D_K^2 M D_F^2$) and a 1×1 pointwise "
                "combination ($M N D_F^2$): the ratio is $\\frac{1}{N} + \\frac{1}{D_K^2}$.")
    cols = st.columns(4)
    cp.metric(cols[0], "Standard MACs", ts["macs"])
    cp.metric(cols[1], "Separable MACs", tp["macs"])
    cp.metric(cols[2], "Computed ratio", f"{tp['macs'] / ts['macs']:.4f}", help=f"{tp['macs']:,} / {ts['macs']:,}")
    cp.metric(cols[3], "1/N + 1/D_K²", f"{1 / n + 1 / k ** 2:.4f}", help="The paper's formula; equal to the "
              "computed ratio (padding keeps D_F).")
    st.caption(f"Parameters: {ts['params']:,} standard vs {tp['params']:,} separable "
               f"(×{tp['params'] / ts['params']:.3f}).")
    left, right = st.columns(2)
    with left:
        cp.graph("standard", m, n, k, size)
    with right:
        cp.graph("separable", m, n, k, size)


with st.container(border=True):
    st.subheader("Standard vs depthwise-separable convolution", anchor=False)
    cp.safe(separable)

with st.container(border=True):
    st.subheader("Fire module (SqueezeNet)", anchor=False)
    c = st.columns(3)
    sq = cp.pick("squeeze", P, c[0], label="s1x1 squeeze", style="number")
    e1 = cp.pick("e1", P, c[1], label="e1x1 expand", style="number")
    e3 = cp.pick("e3", P, c[2], label="e3x3 expand", style="number")
    params |= {"squeeze": sq, "e1": e1, "e3": e3}

    def fire() -> None:
        f, p = cp.block("fire", m, sq, e1, e3, size).totals(), cp.block("plain", m, e1 + e3, size).totals()
        st.markdown("Squeeze to few channels with 1×1 filters, then expand with a mix of 1×1 and 3×3 filters: "
                    f"fewer 3×3 filters, each seeing only s1x1 = {sq} inputs. Compared with one 3×3 convolution "
                    f"from M = {m} to e1x1 + e3x3 = {e1 + e3} channels:")
        cols = st.columns(4)
        cp.metric(cols[0], "Fire params", f["params"])
        cp.metric(cols[1], "3×3 conv params", p["params"])
        cp.metric(cols[2], "Fire MACs", f["macs"])
        cp.metric(cols[3], "Saving", f"×{p['macs'] / max(1, f['macs']):.2f}", help="3×3 conv MACs / Fire MACs")
        cp.graph("fire", m, sq, e1, e3, size)

    cp.safe(fire)

with st.container(border=True):
    st.subheader("Inverted residual with linear bottleneck (MobileNetV2)", anchor=False)
    t = cp.pick("t", P, label="t expansion ratio")
    params["t"] = t

    def inverted() -> None:
        a = cp.block("inverted_residual", m, n, t, size)
        st.markdown(f"Expand the thin input ({m} ch) by t = {t} with a 1×1 conv, filter 3×3 depthwise in the wide "
                    f"space ({m * t} ch), project back with a **linear** 1×1 conv (no ReLU6: it would destroy "
                    f"information in the low-dimensional space) to {n} ch; the residual joins the thin ends"
                    + (" (M = N here)." if m == n else " (only when M = N; not here).")
                    + " Built by archlib's MobileNetV2 block, as in `mobilenet_v2`.")
        tot = a.totals()
        cols = st.columns(3)
        cp.metric(cols[0], "Params", tot["params"])
        cp.metric(cols[1], "MACs", tot["macs"])
        cp.metric(cols[2], "Activations", tot["activations"])
        left, right = st.columns([3, 2])
        with left:
            cp.op_table(a)
        with right:
            cp.graph("inverted_residual", m, n, t, size)

    cp.safe(inverted)

with st.container(border=True):
    st.subheader("Squeeze-and-excitation", anchor=False)
    se = cp.pick("se", P, label="SE squeeze ratio")
    params["se"] = se

    def squeeze() -> None:
        with_se, without = cp.block("mbconv", m, n, t, k, size, se), cp.block("mbconv", m, n, t, k, size, 0.0)
        se_elementwise = sum(r.cost.elementwise for r in with_se.rows if r.name.startswith("se."))
        squeeze_ch = next((r.out_shape[0] for r in with_se.rows if r.name == "se.fc1"), 0)
        a, b = with_se.totals(), without.totals()
        st.markdown("Pool each channel to one number, pass the vector through a small bottleneck (1×1 convs, "
                    f"squeeze = max(1, ⌊ratio × block input channels⌋) = {squeeze_ch} here; EfficientNet's 0.25 "
                    f"gives M // 4), gate with a sigmoid and rescale the channels. In EfficientNet's MBConv "
                    f"(M = {m}, t = {t}, built by the family's block) SE adds:")
        cols = st.columns(4)
        cp.metric(cols[0], "SE params", a["params"] - b["params"],
                  help=f"+{100 * (a['params'] - b['params']) / b['params']:.1f}% of the block")
        cp.metric(cols[1], "SE MACs", a["macs"] - b["macs"],
                  help=f"+{100 * (a['macs'] - b['macs']) / b['macs']:.2f}% of the block")
        cp.metric(cols[2], "Params share", f"{100 * (a['params'] - b['params']) / a['params']:.1f}%")
        cp.metric(cols[3], "Elementwise", se_elementwise, help="SE's pool, activations, gate and scale")
        cp.graph("mbconv", m, n, t, k, size, se)

    cp.safe(squeeze)

with st.container(border=True):
    st.subheader("Channel shuffle (ShuffleNet)", anchor=False)
    g = cp.pick("groups", P, label="g groups of the 1×1 convs")
    params["groups"] = g

    def shuffle() -> None:
        if m % g or (m // 4) % g or m < 4:
            st.warning(f"ShuffleNet's unit has a bottleneck of M / 4 = {m // 4} channels: choose M of at least 4 "
                       f"and g = {g} dividing both M = {m} and M / 4.", icon=":material/info:")
            return
        a, dense = cp.block("shuffle", m, g, size), cp.block("shuffle", m, 1, size)
        ta, td = a.totals(), dense.totals()
        st.markdown(f"Grouped 1×1 convolutions cut their cost by g; a channel shuffle (a free permutation, "
                    f"0 MACs) lets information cross the groups. ShuffleNet unit on M = {m} channels:")
        cols = st.columns(3)
        cp.metric(cols[0], f"MACs, g = {g}", ta["macs"])
        cp.metric(cols[1], "MACs, g = 1", td["macs"])
        cp.metric(cols[2], "Saving", f"×{td['macs'] / max(1, ta['macs']):.2f}")
        cp.graph("shuffle", m, g, size)

    cp.safe(shuffle)

with st.container(border=True):
    st.subheader("Fused-MBConv (EfficientNetV2)", anchor=False)

    def fused() -> None:
        f, b = cp.block("fused_mbconv", m, n, t, 3, size).totals(), cp.block("mbconv", m, n, t, 3, size, 0.0).totals()
        st.markdown("Fused-MBConv replaces the 1×1 expansion and the 3×3 depthwise conv by one regular 3×3 conv. "
                    "It costs more MACs and parameters but runs faster in the early, high-resolution stages, where "
                    f"depthwise convs use accelerators poorly. At M = {m}, N = {n}, t = {t}, both without SE (as "
                    "EfficientNetV2's fused stages are), built by the families' blocks:")
        cols = st.columns(4)
        cp.metric(cols[0], "MBConv MACs", b["macs"])
        cp.metric(cols[1], "Fused MACs", f["macs"], help=f"×{f['macs'] / b['macs']:.2f} of MBConv")
        cp.metric(cols[2], "MBConv params", b["params"])
        cp.metric(cols[3], "Fused params", f["params"], help=f"×{f['params'] / b['params']:.2f} of MBConv")
        left, right = st.columns(2)
        with left:
            cp.graph("mbconv", m, n, t, 3, size, 0.0)
        with right:
            cp.graph("fused_mbconv", m, n, t, 3, size)

    cp.safe(fused)

with st.container(border=True):
    st.subheader("ReLU6, swish and h-swish", anchor=False)
    st.markdown("ReLU6 = min(max(x, 0), 6) keeps activations in a range low-precision arithmetic handles. "
                "Swish x·σ(x) is smooth and better in deep layers; MobileNetV3's **h-swish** "
                "x·ReLU6(x+3)/6 approximates it with no exponential.")
    st.plotly_chart(charts.activations(), key="activations")

widgets.publish(state.View(PAGE, st.session_state[state.MODEL], {}, params), PAGE)
