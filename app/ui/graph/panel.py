"""The live graph on a page: its expanded groups and selection in session state (and so in
the URL), the click handler, downloads that keep the expansion, the selected node's rows.

Explore and Compare both call `live`; a page keeps `expand` and `focus` as text under
its own keys (`explore.expand`, ...), which its URL schema reads and writes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import streamlit as st

from app.ui import cache, state, widgets
from app.ui.graph import component, keys
from archlib.core.analysis import human
from archlib.errors import ArchlibError

if TYPE_CHECKING:
    import pandas as pd


EXPLORE_HELP = component.HELP[:-1] + ": its layers are listed below the graph and shaded in the layer table."


@dataclass(frozen=True)
class Selection:
    """The validated graph state of a page: expanded groups, the selected name, what is allowed."""

    page: str
    expand: tuple[str, ...]
    focus: str
    groups: tuple[str, ...]                       # every expandable group, in model order
    names: frozenset[str] = field(repr=False)     # every op and group name (what may be selected)

    @property
    def params(self) -> dict[str, str]:
        return {"expand": keys.join(self.expand), "focus": self.focus}


def selection(page: str, models: list[tuple[str, cache.Items]]) -> Selection:
    """The page's expand/focus checked against its models: unknown names dropped.

    The first check in a session reads what came from the URL and names what it drops;
    later ones (another model, fewer blocks) drop silently what no longer exists.
    """
    groups, names = cache.graph_names(tuple(models))
    ek, fk = state.param_key(page, "expand"), state.param_key(page, "focus")
    label = " / ".join(dict.fromkeys(m for m, _ in models))
    expand, msgs = keys.parse_expand(st.session_state.get(ek, ""), groups, model=label)
    focus, more = keys.parse_focus(st.session_state.get(fk, ""), names, model=label)
    checked = f"{page}._graph_checked"
    if not st.session_state.get(checked):
        st.session_state[checked] = True
        for m in msgs + more:
            st.warning(widgets.md_escape(m), icon=":material/link_off:")
    st.session_state[ek], st.session_state[fk] = keys.join(expand), focus
    if note := st.session_state.pop(_note_key(page), ""):
        st.warning(widgets.md_escape(note), icon=":material/unfold_more:")
    return Selection(page, expand, focus, groups, names)


def _on_click(comp_key: str, sel: Selection) -> None:
    ev = component.clicked(comp_key)
    if ev is None:
        return
    fk, ek = state.param_key(sel.page, "focus"), state.param_key(sel.page, "expand")
    expand, focus, note = keys.apply_click(ev, keys.split(st.session_state.get(ek, "")),
                                           st.session_state.get(fk, ""), sel.groups, sel.names)
    st.session_state[ek], st.session_state[fk] = keys.join(expand), focus
    if note:  # shown once, by the next selection() (a callback's own output would land at the page's top)
        st.session_state[_note_key(sel.page)] = note


def _note_key(page: str) -> str:
    return f"{page}._graph_note"


def live(model: str, items: cache.Items, sel: Selection, *, level: str, color: str, rankdir: str,
         key: str, height: int, top: int | None = None, help: str = component.HELP,
         latency: cache.Latency = None) -> bool:
    """The live graph of one configuration, with `sel`'s expansion and selection (and per-op ms);
    False (and why, in its place) when the graph is too large to lay out or dot was stopped."""
    why = cache.too_large(model, items, level, sel.expand, latency)
    if why is None:
        # one colour scale whatever is expanded (the level's largest box): expanding never recolours the rest
        top = top if top is not None else cache.node_max(model, items, level, color, latency=latency)
        try:
            svg = cache.page_svg(model, items, level, color, rankdir, top, sel.expand, latency)
        except ArchlibError as e:
            why = str(e)
    if why is not None:
        _refused(why, sel, key=key)
        return False
    g = cache.level_graph(model, items, level, sel.expand, latency)
    component.mount(svg, key=key, sig=component.signature(g, rankdir), focus=sel.focus,
                    legend=component.legend(top, color), height=height, help=help,
                    on_click=functools.partial(_on_click, key, sel),
                    latency_source="predicted on this host" if latency is not None else "")
    return True


def _refused(why: str, sel: Selection, *, key: str) -> None:
    """Why the graph is not drawn (what to do instead), and a button that collapses every group."""
    st.info(widgets.md_escape(why), icon=":material/account_tree:")
    if sel.expand:
        ek = state.param_key(sel.page, "expand")
        st.button("Collapse every expanded group", key=f"{key}.collapse_all",
                  icon=":material/unfold_less:", on_click=lambda: st.session_state.update({ek: ""}))


def downloads(boxes: list[Any], model: str, items: cache.Items, sel: Selection, *, level: str, color: str,
              rankdir: str, latency: cache.Latency = None) -> None:
    """SVG and PNG of the graph as shown (expanded groups included), built only when clicked."""
    args = (model, items, level, color, rankdir, cache.node_max(model, items, level, color, latency=latency),
            sel.expand)
    stem = f"{model}_{level}" + ("_expanded" if sel.expand else "")
    boxes[0].download_button("SVG", lambda: cache.graph_svg(*args, legend=True, latency=latency),
                             file_name=f"{stem}.svg", mime="image/svg+xml", icon=":material/download:",
                             on_click="ignore", key="dl_svg")
    boxes[1].download_button("PNG", lambda: cache.graph_png(*args, latency), file_name=f"{stem}.png", mime="image/png",
                             icon=":material/download:", on_click="ignore", key="dl_png")


def focus_mask(df: pd.DataFrame, focus: str) -> pd.Series:
    """The layer-table rows of the selected name: the op itself or every op of the group."""
    return (df["name"] == focus) | df["name"].str.startswith(focus + ".", na=False)


def only_focus(df: pd.DataFrame, focus: str, *, key: str) -> pd.DataFrame:
    """A toggle (when something is selected) that keeps only the selected name's rows."""
    if not focus or not st.toggle(f"Only the rows of `{focus}` (selected in the graph)", key=key):
        return df
    return df[focus_mask(df, focus)]


def highlight(df: pd.DataFrame, focus: str) -> Any:
    """`df`, with the selected name's rows shaded when something is selected (a Styler then)."""
    if not focus:
        return df
    mask = focus_mask(df, focus)
    if not mask.any():
        return df
    return df.style.apply(lambda r: ["background-color: #dbe7ff" if mask[r.name] else ""] * len(r), axis=1)


def selected_rows(model: str, items: cache.Items, sel: Selection) -> None:
    """The selected node's layers under the graph (the layer table's rows, shaded there too)."""
    if not sel.focus:
        st.caption("Click an op (or a group) to list its layers here; the layer table shades them.")
        return
    df = cache.layer_table(model, items)
    rows = df[focus_mask(df, sel.focus)]
    t = cache.analysis(model, items).totals()
    macs, params = int(rows["macs"].sum()), int(rows["params"].sum())
    frac = macs / t["macs"] if t["macs"] else 0.0
    share = f" ({'<0.01%' if 0 < frac < 1e-4 else f'{frac:.2%}'} of the model)" if t["macs"] else ""
    c = st.columns([5, 1], vertical_alignment="center")
    c[0].markdown(f"**Selected: `{sel.focus}`** · {len(rows):,} layer{'s' if len(rows) != 1 else ''} · "
                  f"MACs {human(macs)}{share} · params {human(params)}")
    c[1].button("Clear", key=f"{sel.page}.clear_focus", icon=":material/close:", width="stretch",
                on_click=lambda: st.session_state.update({state.param_key(sel.page, "focus"): ""}))
    st.dataframe(rows, hide_index=True, height=min(36 * (len(rows) + 1) + 3, 320), key=f"{sel.page}.focus_rows",
                 column_order=["name", "op", "input", "output", "params", "macs", "macs_share", "activations"],
                 column_config={"macs_share": st.column_config.NumberColumn("share of MACs", format="percent"),
                                "macs": st.column_config.NumberColumn("MACs", format="localized"),
                                **{k: st.column_config.NumberColumn(format="localized")
                                   for k in ("params", "activations")}})
