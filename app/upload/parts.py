"""The upload page's parts: the file uploader (imported in a callback, before the sidebar is drawn),
the uploaded model's summary, and the ways into every other view."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

import archlib
from app.explore import parts as explore
from app.ui import cache, state, widgets
from archlib.cli import parse_input
from archlib.errors import ArchlibError
from archlib.importers import models, uploads

ROOT = Path(__file__).resolve().parents[2]
PAGE = "upload"
FILE, INPUT, RESULT = f"{PAGE}.file", f"{PAGE}.input", f"{PAGE}._result"


def _import() -> None:
    """The uploader's callback: import the file; keep it and open it only when it imports cleanly."""
    f = st.session_state.get(FILE)
    if f is None:
        st.session_state.pop(RESULT, None)
        return
    try:
        shape = parse_input(st.session_state.get(INPUT, "").strip() or None).get("input_shape")
        name = models.upload(f.getvalue(), f.name, input_shape=shape)
        # the size given here, which differs from the upload's default when another upload came first
        sizes = models.shape_knobs(name, shape) if shape else {}
    except ArchlibError as e:
        st.session_state[RESULT] = ("error", str(e))
        return
    st.session_state[RESULT] = ("ok", name)
    open_model(name, sizes)


def open_model(name: str, sizes: dict[str, int] | None = None) -> None:
    """Make `name` the sidebar's model, at input `sizes` when given (call from a callback: the select
    and the knobs are drawn before the page)."""
    st.session_state[state.MODEL] = name
    state.remember_imported(st.session_state.setdefault(state.SS_IMPORTED, []), name)
    for k, v in (sizes or {}).items():
        st.session_state[state.knob_key(name, k)] = v


def uploader() -> None:
    """The file, the input size for a dynamic one, and what became of the last upload."""
    limit = uploads.MAX_UPLOAD_BYTES // 2**20
    with st.container(border=True):
        c = st.columns([3, 1.3], vertical_alignment="top")
        c[0].file_uploader(
            "ONNX file", type=["onnx"], key=FILE, on_change=_import, max_upload_size=limit,
            help=f"Up to {limit} MiB, with its weights inside the file (export with external_data=False). It is "
                 "parsed with the onnx package and never run; kept on this server under its sha256, so the link "
                 "opens it for anyone using this server, until newer uploads need the room.")
        c[1].text_input("Input size C,H,W", key=INPUT, placeholder="e.g. 3,224,224", max_chars=24,
                        help="Only for a file whose input size is dynamic (a fixed one is read from the file). "
                             "Set it before choosing the file, or then press Read again.")
        c[1].button("Read again", icon=":material/refresh:", on_click=_import, disabled=st.session_state.get(FILE)
                    is None, width="stretch")
    kind, text = st.session_state.get(RESULT, (None, ""))
    if kind == "error":
        st.error(widgets.md_escape(text) + "  \nNothing was kept.", icon=":material/error:")


def summary(model: str) -> Any:
    """The uploaded model: where it came from, its totals and notes, and the views that show it."""
    st.subheader(widgets.md_escape(widgets.model_label(model)), anchor=False)
    try:
        st.caption(widgets.md_escape(f"{archlib.get_model(model).description} · {model}"))
        a = cache.analysis(model, widgets.knob_items(widgets.session_knobs(model)))
    except ArchlibError as e:
        st.error(widgets.md_escape(str(e)), icon=":material/error:")
        return None
    explore.totals(a)
    kinds = sorted({r.op for r in a.rows})
    st.caption(f"{len(a.rows):,} rows, named after the file's nodes; op kinds: {', '.join(kinds)}. Parameters are "
               "the file's floating-point weights (single numbers are constants); MACs are the conv, linear and "
               "matmul multiply-accumulates, exactly as for the catalogue's models.")
    explore.notes(a)
    views()
    return a


def views() -> None:
    """Every view of the catalogue, for this model (the sidebar's)."""
    st.markdown("**Every view of the catalogue**", help="The sidebar's model is now your file: each page shows it.")
    c = st.columns(3)
    c[0].page_link(ROOT / "pages" / "explore.py", label="Explore: graph, layers, breakdowns",
                   icon=":material/account_tree:")
    c[1].page_link(ROOT / "pages" / "compare.py", label="Compare with the catalogue's models",
                   icon=":material/compare_arrows:")
    c[2].page_link(ROOT / "pages" / "pareto.py", label="Pareto fronts and Measure (latency here)",
                   icon=":material/scatter_plot:")
    st.caption("On Pareto your model sits on the cost axes and, once measured, on the measured-latency axis; it "
               "has no accuracy unless you enter one in its sidebar (then drawn as a star, marked as yours).")


def session_uploads(current: str) -> None:
    """The other uploads this session opened: one click makes one the sidebar's model."""
    others = [m for m in st.session_state.get(state.SS_IMPORTED, []) if m != current]
    if not others:
        return
    st.markdown("**Opened in this session**")
    for m in others:
        # a button label renders Markdown (links, images): the file name is escaped
        st.button(widgets.md_escape(widgets.model_label(m)), key=f"{PAGE}.open.{m}", on_click=open_model, args=(m,),
                  icon=":material/upload_file:")
