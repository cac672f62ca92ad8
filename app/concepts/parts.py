"""The sections of the Concepts page: each building block built by its family's builder as a tiny
IR and costed live."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

import archlib
from app.concepts import blocks
from app.ui import state, widgets
from archlib.core.analysis import Analysis, human
from archlib.core.knobs import Knob
from archlib.views import blockgraph

PAGE = state.CONCEPTS
BLOCKS: dict[str, Callable[..., Analysis]] = {
    "standard": blocks.standard_conv, "separable": blocks.separable_conv, "fire": blocks.fire,
    "plain": blocks.plain3x3, "inverted_residual": blocks.inverted_residual, "mbconv": blocks.mbconv,
    "fused_mbconv": blocks.fused_mbconv, "shuffle": blocks.shuffle_unit,
}


@st.cache_resource(max_entries=256, show_spinner=False)
def block(kind: str, *args: Any, **kw: Any) -> Analysis:
    return BLOCKS[kind](*args, **kw)


@st.cache_data(max_entries=128, show_spinner=False)
def block_svg(kind: str, *args: Any, **kw: Any) -> str:
    g = blockgraph.op_graph(block(kind, *args, **kw))
    return blockgraph.to_svg(blockgraph.to_dot(g, color_by="macs")).decode()


def pick(name: str, P: dict[str, Knob], box: Any = None, **kw: Any) -> Any:
    return widgets.control(P[name], state.param_key(PAGE, name), container=box, **kw)


def metric(box: Any, label: str, value: int | float | str, help: str | None = None, **kw: Any) -> None:
    shown = value if isinstance(value, str) else human(value)
    box.metric(label, shown, help=help or (f"{value:,}" if isinstance(value, int) else None), border=True, **kw)


def op_table(a: Analysis) -> None:
    rows = [{"op": r.name, "kind": r.op, "output": "×".join(map(str, r.out_shape)), "params": r.cost.params,
             "MACs": r.cost.macs, "elementwise": r.cost.elementwise} for r in a.rows]
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        k: st.column_config.NumberColumn(format="localized") for k in ("params", "MACs", "elementwise")})


def graph(kind: str, *args: Any, **kw: Any) -> None:
    with st.container(horizontal_alignment="center"):
        st.image(block_svg(kind, *args, **kw), width="content")


def safe(fn: Callable[[], None]) -> None:
    """Run one section; a combination the block cannot take is reported, the page goes on."""
    try:
        fn()
    except (archlib.ArchlibError, ValueError) as e:
        st.error(widgets.md_escape(str(e)), icon=":material/error:")


def seed_example() -> None:
    """The seed's fvcore demo on LeNet: fvcore-convention counts by module and operator."""
    if "lenet" not in archlib.list_models():
        return
    a = archlib.analyze("lenet")
    by = a.by_module_and_operator()
    rows = [{"module": k or "(model)", **{op: n for op, n in v.items()}} for k, v in by.items()]
    st.table(pd.DataFrame(rows).fillna(0).astype({c: int for c in rows[0] if c != "module"}).set_index("module"))
    st.caption(f"archlib's count of the seed's LeNet in fvcore's convention: total {a.totals()['fvcore']:,} "
               "(the seed's `flops.total()` printed 274,656; fvcore names the fully connected layers `addmm`). "
               "Parameters: " + f"{a.totals()['params']:,}.")
