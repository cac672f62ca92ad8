"""The sections of the Explore page (kept here so the page file stays a thin script)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

import archlib
from app.hardware import model as hwmodel
from app.ui import cache, state, tables, widgets
from app.ui.graph import panel as graph_panel
from archlib.core.analysis import Analysis, human
from archlib.core.knobs import Knob

if TYPE_CHECKING:
    import pandas as pd

    from archlib.views.crosscheck import CrossCheck

PAGE = state.EXPLORE


def _metric(box: Any, label: str, value: int, help: str, unit: str = "") -> None:
    box.metric(label, human(value, unit), help=f"{value:,} {help}".strip(), border=True)


def totals(a: Analysis, *, latency: Callable[[Any], None] | None = None) -> None:
    """The headline numbers, human units with the exact values in the help; `latency` fills a sixth
    box (this host's predicted latency, app.hardware.model)."""
    t = a.totals()
    cols = st.columns(6 if latency else 5)
    if latency:
        latency(cols[5])
    _metric(cols[0], "Parameters", t["params"], f"trainable parameters; plus {t['buffers']:,} buffers (BN statistics)")
    _metric(cols[1], "MACs", t["macs"], "multiply-accumulates of conv, linear and matmul ops, per sample")
    _metric(cols[2], "FLOPs", t["flops"], "= 2 x MACs (what FlopCounterMode reports)")
    _metric(cols[3], "Activations", t["activations"], "output elements of conv/linear/matmul ops (RegNet's definition)")
    _metric(cols[4], "Elementwise", t["elementwise"], "elementwise ops: BN, activations, adds, pooling windows; "
            "never mixed into MACs")


def notes(a: Analysis) -> None:
    """What an importer said about the graph: ops it could not model, folded BatchNorm, ... (escaped)."""
    for n in a.ir.notes:
        st.info(widgets.md_escape(n), icon=":material/info:")


def configuration(model: str, a: Analysis) -> str:
    """The knobs in words; a stage table (up to 1000 characters) as whose it is and its rows."""
    custom = "stages" in archlib.get_model(model).overrides(a.config)
    return ", ".join(f"{k} {state.fmt(v)}" if k != "stages" else
                     f"stages {'custom' if custom else 'of the paper'} ({v.count('-') + 1} rows)"
                     for k, v in a.config.items())


def memory(a: Analysis, P: dict[str, Knob]) -> dict[str, Any]:
    """Memory for a batch size, number format and optimizer: weights, inference and training."""
    with st.container(border=True):
        c = st.columns([1, 1, 1.1, 1.2, 1.2, 1.2], vertical_alignment="bottom")
        batch = _pick("batch", P, c[0], label="Batch size")
        dtype = _pick("dtype", P, c[1], label="Number format")
        optimizer = _pick("optimizer", P, c[2], label="Optimizer")
        m = a.memory(batch=batch, dtype=dtype, optimizer=optimizer)
        _metric(c[3], "Weights", m["weights"], "bytes of parameters and buffers", "B")
        _metric(c[4], "Inference", m["inference_total"],
                f"bytes: weights + peak live activations ({m['inference_activations_peak']:,} B) at batch {batch}",
                "B")
        _metric(c[5], "Training step", m["training_total"],
                f"bytes: weights, gradients, {optimizer} state and saved activations "
                f"({m['training_saved_activations']:,} B) at batch {batch}", "B")
    return {"batch": batch, "dtype": dtype, "optimizer": optimizer}


def _pick(name: str, P: dict[str, Knob], box: Any, **kw: Any) -> Any:
    return widgets.control(P[name], state.param_key(PAGE, name), container=box, **kw)


def graph(model: str, items: cache.Items, P: dict[str, Knob]) -> dict[str, Any]:
    """The live block graph (pan, zoom, hover, expand, search), its controls and downloads."""
    c = st.columns([2.5, 3.9, 1.1, 1, 1], vertical_alignment="bottom")
    level = _pick("level", P, c[0], style="pills", label="Level")
    color = _pick("color", P, c[1], style="pills", label="Colour by",
                  format_func={"macs": "MACs", "params": "params", "activations": "acts",
                               "elementwise": "elementwise", "ms": "ms"}.get)
    rankdir = _pick("rankdir", P, c[2], style="pills", label="Direction", format_func={"TB": "↓", "LR": "→"}.get)
    chosen = {"level": level, "color": color, "rankdir": rankdir}
    latency = hwmodel.per_op(model, items) if color == "ms" else None
    if color == "ms" and latency is None:
        st.info("Colouring by predicted latency needs this host's latency model: calibrate it (below the totals "
                "or on the Hardware page). Coloured by MACs meanwhile.", icon=":material/speed:")
        color = "macs"
    sel = graph_panel.selection(PAGE, [(model, items)])
    with st.spinner("Laying out the graph…"):  # the width: a zoomed-in graph and its hover card need room
        shown = graph_panel.live(model, items, sel, level=level, color=color, rankdir=rankdir, key="graph_explore",
                                 height=640, help=graph_panel.EXPLORE_HELP, latency=latency)
    if shown:  # else too large to lay out, said in its place: nothing to download or click
        graph_panel.downloads([c[3], c[4]], model, items, sel, level=level, color=color, rankdir=rankdir,
                              latency=latency)
        st.caption("Each box: name, operator (or number of ops) → output shape, MACs and parameters"
                   + (", predicted ms on this host" if latency else "") + "; darker = more of the chosen cost. "
                   "Graph totals equal the table's at every level and with any groups expanded.")
        graph_panel.selected_rows(model, items, sel)
    st.markdown("**Stages**", help="Per stage: input resolution, output channels, blocks, costs.")
    tables.show_stages(cache.analysis(model, items))
    return chosen | sel.params


def _filter(df: pd.DataFrame, q: str) -> pd.DataFrame:
    import pandas as pd

    terms = q.lower().split()
    if not terms:
        return df
    text = (df["name"] + " " + df["op"]).str.lower()
    keep = pd.Series(True, index=df.index)
    for t in terms:
        keep &= text.str.contains(t, regex=False)
    return df[keep]


def layers(model: str, items: cache.Items, a: Analysis, P: dict[str, Knob]) -> dict[str, Any]:
    """The per-layer table: sortable (click a header), filterable, downloadable."""
    df = hwmodel.with_predicted(cache.layer_table(model, items), model, items)
    c = st.columns([4, 2], vertical_alignment="bottom")
    q = _pick("q", P, c[0], label="Filter", placeholder="name or operator, e.g. s3 conv2d")
    c[1].download_button(f"CSV of all {len(df):,} layers", lambda: cache.layer_csv(model, items),
                         file_name=f"{model}_layers.csv", mime="text/csv", icon=":material/download:",
                         on_click="ignore", key="dl_csv", width="stretch")
    focus = graph_panel.selection(PAGE, [(model, items)]).focus  # the graph's selection, shaded here
    shown = graph_panel.only_focus(_filter(df, q), focus, key="layers_only_focus")
    fmt = dict(format="localized")
    st.dataframe(
        graph_panel.highlight(shown, focus), hide_index=True, height=560, key="layer_table",
        column_order=["name", "op", "input", "output", "params", "macs", "macs_share", "predicted_ms", "flops",
                      "elementwise", "activations"],
        column_config={
            "name": st.column_config.TextColumn("name", pinned=True),
            "params": st.column_config.NumberColumn("params", **fmt),
            "macs": st.column_config.NumberColumn("MACs", **fmt),
            "macs_share": st.column_config.ProgressColumn("share of MACs", format="percent", min_value=0,
                                                          max_value=float(df["macs_share"].max() or 1)),
            "flops": st.column_config.NumberColumn("FLOPs", **fmt),
            "elementwise": st.column_config.NumberColumn("elementwise", **fmt),
            "activations": st.column_config.NumberColumn("activations", **fmt),
            "predicted_ms": st.column_config.NumberColumn("predicted ms", format="%.4f",
                                                          help="this host's latency model, per layer (batch 1)"),
        })
    sub = shown[["params", "macs", "activations"]].sum()
    st.caption(f"{len(shown):,} of {len(df):,} layers shown · params {human(sub['params'])} · "
               f"MACs {human(sub['macs'])} · activations {human(sub['activations'])}. Click a header to sort."
               + (f" Rows of `{focus}` (selected in the graph) are shaded." if focus else ""))
    return {"q": q}


def snippets(model: str, knobs: dict[str, Any]) -> tuple[str, str]:
    """(Python, CLI) that rebuild exactly this configuration: the model plus its non-default knobs."""
    changed = {k: state.clean(v) for k, v in archlib.get_model(model).overrides(knobs).items()}
    args = "".join(f", {k}={v!r}" for k, v in changed.items())
    py = (f"import archlib\n\n"
          f"a = archlib.analyze({model!r}{args})   # the table and totals, no tensor allocated\n"
          f"print(a.totals())\n"
          f"m = archlib.build({model!r}{args})     # a torch.nn.Module named like the table's rows\n"
          f"g = archlib.graph({model!r}{args}, level=\"block\")")
    flags = "".join(f" --{k} {state.fmt(v)}" for k, v in changed.items())
    cli = (f"python -m archlib summary {model}{flags}\n"
           f"python -m archlib graph {model}{flags} --format svg -o {model}.svg")
    return py, cli


def code(model: str, knobs: dict[str, Any]) -> None:
    py, cli = snippets(model, knobs)
    st.markdown("**Python**")
    st.code(py, language="python")
    st.markdown("**Command line**")
    st.code(cli, language="bash")


def crosscheck(model: str, items: cache.Items, a: Analysis) -> None:
    """Count the built model with FlopCounterMode and fvcore; compare per module with archlib."""
    from archlib.views import crosscheck as cc

    st.markdown(
        "Builds the real `torch.nn.Module` (module names = table names) and counts it with two independent "
        "tools, as in the seed's fvcore demo. **FlopCounterMode** (torch, meta device) reports FLOPs = 2 × "
        "MACs of conv, linear and matmul: its half must equal archlib's MACs exactly. **fvcore** "
        "`FlopCountAnalysis` (a real batch-1 forward) counts one per MAC *plus* 2 per element of an eval-mode "
        "BatchNorm, 5 per element of a LayerNorm and 1 per input element of an adaptive average pool, and "
        "nothing for activations, adds or max pools; archlib's `fvcore` column follows that convention. "
        "Attention computed by fused kernels has no fvcore handle, so fvcore comes out low there.")
    if refused := cc.too_large(a):
        st.warning(widgets.md_escape(refused), icon=":material/block:")
        return
    key = (model, items)
    if st.button("Run the cross-check", type="primary", icon=":material/play_arrow:", key="run_crosscheck"):
        st.session_state[state.SS_CROSSCHECK] = key
    if st.session_state.get(state.SS_CROSSCHECK) != key:
        st.caption("Runs on demand: building and tracing take about a second for B0, a few for B7.")
        return
    try:
        with st.spinner("Building the model and counting with FlopCounterMode and fvcore…"):
            check = cache.crosscheck(model, items)
    except archlib.ArchlibError as e:
        st.error(widgets.md_escape(str(e)), icon=":material/error:")
        return
    _crosscheck_summary(check)
    depth = st.segmented_control("Modules down to", ["stage", "block", "unit", "op"], default="block",
                                 required=True, key="crosscheck_depth")
    rows = [{"module": m.module or "(whole model)", "archlib MACs": m.macs, "FlopCounterMode MACs": m.flopcounter,
             "agree": "✓" if m.macs_agree else "✗", "archlib (fvcore conv.)": m.fvcore_convention,
             "fvcore": m.fvcore, "agree ": "✓" if m.fvcore_agrees else "✗", "fvcore − MACs": m.fvcore - m.macs,
             "why they differ": m.reason} for m in check.down_to(depth)]
    st.dataframe(rows, hide_index=True, height=420, column_config={
        c: st.column_config.NumberColumn(format="localized")
        for c in ("archlib MACs", "FlopCounterMode MACs", "archlib (fvcore conv.)", "fvcore", "fvcore − MACs")})


def _crosscheck_summary(check: CrossCheck) -> None:
    total, bad_fc, bad_fv = check.total, check.flopcounter_mismatches, check.fvcore_mismatches
    c = st.columns(3)
    c[0].metric("archlib MACs", human(total.macs), help=f"{total.macs:,}", border=True)
    c[1].metric("FlopCounterMode FLOPs / 2", human(total.flopcounter), help=f"{total.flopcounter:,}",
                delta=f"{total.flopcounter - total.macs:+,}", delta_color="off", border=True)
    c[2].metric("fvcore total", human(total.fvcore), help=f"{total.fvcore:,}",
                delta=f"{total.fvcore - total.macs:+,} vs MACs", delta_color="off", border=True)
    if not bad_fc:
        st.success(f"FlopCounterMode agrees with archlib's MACs exactly, in total and in all "
                   f"{len(check.modules) - 1} modules it reports.", icon=":material/check_circle:")
    else:
        st.error(f"FlopCounterMode differs in {len(bad_fc)} modules, e.g. {_modules(bad_fc)}.")
    why = total.reason.replace(": ", " ") or "nothing"
    if not bad_fv:
        st.success(f"fvcore agrees with archlib's fvcore-convention count in every module; its total exceeds "
                   f"the MACs by {why}.", icon=":material/check_circle:")
    else:
        st.warning(f"fvcore differs from archlib's fvcore convention in {len(bad_fv)} modules, e.g. "
                   f"{_modules(bad_fv)}: attention or an operator fvcore has no handle for. Beyond MACs it adds "
                   f"{why}.", icon=":material/info:")


def _modules(names: list[str]) -> str:
    """The first module names, escaped: an imported model's come from its file."""
    return widgets.md_escape(", ".join(k or "(whole model)" for k in names[:5]))
