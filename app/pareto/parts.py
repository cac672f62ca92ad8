"""The Pareto page's parts: filters, the chart with click-to-open, the user's configurations,
the downloads and the link (its URL schema is app.ui.schema's, read by the one codec)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import archlib
from app.pareto import chart as pareto_chart
from app.pareto import data
from app.pareto import svg as pareto_svg
from app.ui import state, widgets
from archlib.data import results
from archlib.errors import ArchlibError

ROOT = Path(__file__).resolve().parents[2]
PAGE = data.PAGE
OPEN = "pareto._open"  # (model, full config) chosen by a click, switched to on the next run
CHART = "pareto.chart"


def key(name: str) -> str:
    return state.param_key(PAGE, name)


def user_configs(model: str) -> list[tuple[str, dict[str, Any]]]:
    """The sidebar configuration, then the Compare page's other slots when they have been set."""
    configs = [(model, widgets.session_knobs(model))]
    for slot in range(2, state.MAX_SLOTS + 1):
        m = st.session_state.get(state.model_key(slot))
        if m in archlib.list_models() and slot <= st.session_state.get(state.param_key(state.COMPARE, "n"), 2):
            configs.append((m, widgets.session_knobs(m, slot)))
    good, seen = [], set()
    for m, k in configs:
        tag = (m, results.format_knobs(k))
        if tag in seen:
            continue
        try:
            archlib.analyze(m, **k)
        except ArchlibError:
            continue
        seen.add(tag)
        good.append((m, k))
    return good


def filters(params: dict[str, Any]) -> dict[str, Any]:
    """The sidebar controls of the chart; their values (as the URL writes them)."""
    with st.sidebar:
        st.markdown("#### Chart", help="Each control is also a URL key, so a link reopens this view.")
        axis = widgets.control(params["x"], key("x"), label="Cost axis",
                               format_func=lambda a: data.AXES[a][1].split(" (")[0])
        fam = _multi("Families", data.FAMILIES, key("fam"))
        src = _multi("Sources", data.SOURCES, key("src"))
        dev = widgets.control(params["dev"], key("dev"), label="Device of the published latency",
                              disabled=axis != "latency")
        front = widgets.control(params["front"], key("front"), label="Pareto frontiers", style="pills")
        unv = widgets.control(params["unverified"], key("unverified"), label="Show unverified values")
        acc = widgets.control(params["acc"], key("acc"), label="Your model's top-1 (%)",
                              placeholder="only if you know it")
    return {"x": axis, "fam": fam, "src": src, "dev": dev, "front": front, "unverified": unv, "acc": acc}


def accuracy(view: dict[str, Any]) -> float | None:
    """The top-1 the user entered for the sidebar model (a bad one is named, and ignored)."""
    try:
        return data.parse_accuracy(view["acc"])
    except ArchlibError as e:
        st.sidebar.warning(widgets.md_escape(str(e)), icon=":material/edit_off:")
        return None


def _multi(label: str, options: tuple[str, ...], skey: str) -> str:
    """A multiselect whose URL form is a comma-separated list (empty = all)."""
    wkey = skey + ".list"
    if wkey not in st.session_state:
        st.session_state[wkey] = [o for o in data.split(st.session_state.get(skey, "")) if o in options]
    chosen = st.multiselect(label, options, key=wkey, placeholder="all", help=f"Empty shows all. URL key "
                            f"`{skey.split('.')[-1]}`.")
    st.session_state[skey] = ",".join(chosen)
    return st.session_state[skey]


def on_select() -> None:
    """A click on a published point: remember it so the next run opens it in Explore."""
    event = st.session_state.get(CHART)
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    ids = [p.get("customdata", [None])[0] for p in points if p.get("customdata")]
    row = next((r for r in data.RESULTS if f"r{r.row}" in ids and r.archlib_model), None)
    if row is None:
        return
    cfg = archlib.config(row.archlib_model, **row.knobs)
    st.session_state[state.MODEL] = row.archlib_model
    for k, v in state.widget_values(row.archlib_model, cfg).items():  # a derived stage table stays ""
        st.session_state[state.knob_key(row.archlib_model, k)] = v
    st.session_state[OPEN] = (row.archlib_model, cfg)


def open_pending() -> None:
    """Switch to Explore on the model a click chose (its knobs carried in the URL)."""
    pending = st.session_state.pop(OPEN, None)
    if pending:
        model, cfg = pending
        query = state.encode(state.View(state.EXPLORE, model, dict(cfg), {}))
        st.switch_page(ROOT / "pages" / "explore.py", query_params=query)


def chart(df: pd.DataFrame, axis: str, fronts: dict[str, list[Any]], user: pd.DataFrame) -> None:
    fig = pareto_chart.figure(df, axis, fronts, user=user)
    st.plotly_chart(fig, key=CHART, on_select=on_select, selection_mode="points", width="stretch",
                    config={"displaylogo": False, "toImageButtonOptions": {
                        "format": "png", "scale": 2, "filename": "archlib-pareto"}})


def user_summary(user: pd.DataFrame, pub: pd.DataFrame, axis: str) -> None:
    """Where the user's configurations sit: a published point, or custom (no accuracy)."""
    col = data.AXES[axis][0]
    for u in user.to_dict("records"):
        name = f"**{widgets.md_escape(widgets.model_label(u['model']))}** {widgets.md_escape(u['knobs'] or '(defaults)')}"
        cost = u.get(col)
        cost_txt = f"{cost:,.3g} on this axis" if isinstance(cost, float) and cost == cost else "not measured yet"
        if not u["custom"]:
            srcs = ", ".join(sorted(set(pub.loc[u["published_rows"], "kind"])))
            st.markdown(f":material/target: {name} is a published configuration ({srcs}): ringed on the chart "
                        f"at its published accuracy.")
            continue
        if u.get("user_top1") is not None and u["user_top1"] == u["user_top1"]:
            st.markdown(f":material/edit: {name} is drawn at the top-1 accuracy **you entered** "
                        f"({u['user_top1']:.2f}%, a red star): not a published or measured result ({cost_txt}).")
        else:
            st.markdown(f":material/straighten: {name} is a custom configuration with **no published or measured "
                        f"accuracy**; it is placed on the cost axis only ({cost_txt}, dashed line). Enter its top-1 "
                        "in the sidebar if you know it.")
        if isinstance(cost, float) and cost == cost and cost > 0:
            near = data.nearest(pub, axis, cost, data.family_of(u["model"]))
            st.dataframe(near[["model", "variant", "kind", "top1_pct", col, "citation"]], hide_index=True,
                         column_config={"top1_pct": st.column_config.NumberColumn("top-1 %", format="%.1f"),
                                        col: st.column_config.NumberColumn(format="%.3g")})


def downloads(df: pd.DataFrame, axis: str, fronts: dict[str, list[Any]]) -> None:
    col, title = data.AXES[axis]
    a, b, c = st.columns([1, 1, 2])
    a.download_button("Data (CSV)", df.drop(columns=["config_key"]).to_csv(index=False).encode(),
                      file_name=f"archlib-pareto-{axis}.csv", mime="text/csv", icon=":material/download:",
                      width="stretch")
    b.download_button("Chart (SVG)", lambda: pareto_svg.render(df, col, title, fronts,
                                                               title=f"Top-1 accuracy vs {title.split(' (')[0]}"),
                      file_name=f"archlib-pareto-{axis}.svg", mime="image/svg+xml", icon=":material/image:",
                      width="stretch")
    c.caption("PNG: the camera button of the chart's toolbar (top right of the chart) saves it at 2x.")


def publish(view: dict[str, Any], model: str) -> None:
    """This view in the URL (the sidebar model's knobs as on every page; only what differs from the
    defaults) and the link to copy."""
    knobs = widgets.session_knobs(model)  # the overrides: merged into the defaults, the default table would be written
    widgets.publish(state.View(PAGE, model, knobs, view), PAGE, help="Opening it shows this chart, these "
                    "filters and the sidebar model's configuration.")
