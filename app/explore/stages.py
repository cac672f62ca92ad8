"""Explore's stage-table editor: a table-driven model's `stages` knob as an editable table.

Typed columns come from the family's grammar (archlib.core.stages); rows can be added,
removed and reset to the paper's table. An edit is applied when the whole table is valid:
the `stages` knob (the sidebar box, the URL, the Rebuild lines) then holds its canonical
text and the totals, graph and layer table follow. A bad edit is named (row, field, range)
and the last valid table stays. Rows unlike the model's own table are marked with their
cost delta.
"""
from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import streamlit as st

import archlib
from app.ui import cache, state, widgets
from archlib.core.analysis import Analysis, human
from archlib.core.knobs import format_value
from archlib.core.stages import Field, StageTable
from archlib.errors import ArchlibError

if TYPE_CHECKING:
    import pandas as pd

PAGE = state.EXPLORE
ERROR = "explore.stages.error"      # the message of the last edit that could not be applied
VERSION = "explore.stages.version"  # bumped on every applied edit: a fresh editor shows the new table
OPEN = "explore.stages.open"        # the expander's state


def _table(model: str) -> StageTable | None:
    return archlib.get_model(model).family.stages


def usable(model: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """The knobs to analyse: a custom table that does not work with the other knobs (more stride-2
    rows than the resolution allows, say) is named and the model's own table used."""
    if not knobs.get("stages"):
        return knobs
    try:
        cache.analysis(model, widgets.knob_items(knobs))
    except ArchlibError as e:
        if not str(e).startswith("stages "):
            return knobs  # another knob's error: the page reports it
        st.error(widgets.md_escape(f"{e} Using the model's own table."), icon=":material/error:")
        return {**knobs, "stages": ""}
    return knobs


def section(model: str, knobs: dict[str, Any], a: Analysis) -> None:
    """The editor in an expander (open when the table is custom), its deltas and messages."""
    table = _table(model)
    if table is None:
        return
    own_cfg = archlib.config(model, **{k: v for k, v in knobs.items() if k != "stages"})
    custom = a.config["stages"] != own_cfg["stages"]
    label = f"Stage table · {len(table.rows(a.config))} rows" + (" · custom" if custom else " · the paper's")
    box = st.expander(label, expanded=custom, icon=":material/table_edit:", key=OPEN, on_change="rerun")
    if not box.open:  # built only when open: a closed editor costs every session nothing
        return
    with box:
        own = cache.analysis(model, widgets.knob_items({**knobs, "stages": ""}))
        _editor(model, knobs, a, own, table)
        _footer(model, a, own, custom, _missing(len(table.rows(a.config)), len(table.rows(own.config))))


def _editor(model: str, knobs: dict[str, Any], a: Analysis, own: Analysis, table: StageTable) -> None:
    rows = table.rows(a.config)
    df = _frame(model, widgets.knob_items(a.config), widgets.knob_items(own.config))
    text = a.config["stages"]
    version = st.session_state.get(VERSION, 0)
    key = f"explore.stages.editor.{model}.{zlib.crc32(text.encode())}.{version}"
    st.data_editor(df, key=key, num_rows="dynamic", hide_index=True, width="stretch",
                   column_config=columns(table, rows), disabled=[c for c in df.columns if c not in _keys(table)],
                   on_change=_apply, args=(model, key, widgets.knob_items(a.config), widgets.knob_items(own.config),
                                           knobs))


def _keys(table: StageTable) -> list[str]:
    return [f.key for f in table.grammar.fields]


@st.cache_data(max_entries=128, show_spinner=False)
def _frame(model: str, items: cache.Items, own_items: cache.Items) -> pd.DataFrame:
    """`frame` of a configuration against the model's own table, computed once for all sessions."""
    a, own = cache.analysis(model, items), cache.analysis(model, own_items)
    table = _table(model)
    return frame(table, table.rows(a.config), table.rows(own.config), a, own)


def frame(table: StageTable, rows: tuple, own_rows: tuple, a: Analysis, own: Analysis) -> pd.DataFrame:
    """One line per row: its fields, where it sits, its cost and its cost against the model's own table."""
    import pandas as pd

    groups, own_groups = table.groups(rows), table.groups(own_rows)
    cost, own_cost, shape = _costs(a, groups), _costs(own, own_groups), _outputs(a, groups)
    out = []
    for i, (row, g) in enumerate(zip(rows, groups)):
        base = own_cost.get(own_groups[i]) if i < len(own_groups) else None
        changed = i >= len(own_rows) or row != own_rows[i]
        mine = cost.get(g, {"macs": 0, "params": 0})
        rec = {"stage": g, "vs paper": ("✎ changed" if i < len(own_rows) else "✚ added") if changed else ""}
        rec |= {f.key: _cell(f, getattr(row, f.key)) for f in table.grammar.fields}
        rec |= {"output": shape.get(g, ""), "MACs": human(mine["macs"]), "params": human(mine["params"]),
                "Δ MACs": _delta(mine["macs"] - (base or {}).get("macs", 0)),
                "Δ params": _delta(mine["params"] - (base or {}).get("params", 0))}
        out.append(rec)
    return pd.DataFrame(out)


def _cell(f: Field, value: Any) -> Any:
    return bool(value) if f.flag else value


def _delta(d: int) -> str:
    return "" if d == 0 else ("+" if d > 0 else "−") + human(abs(d))


def _costs(a: Analysis, groups: list[str]) -> dict[str, dict[str, int]]:
    level = "block" if any("." in g for g in groups) else "stage"
    return dict(a.by_group(level))


def _outputs(a: Analysis, groups: list[str]) -> dict[str, str]:
    """Each group's output feature map, 'C × H²'."""
    out: dict[str, str] = {}
    for g in groups:
        last = next((r for r in reversed(a.rows) if r.name.startswith(g + ".")), None)
        if last is not None and len(last.out_shape) == 3:
            c, h, _ = last.out_shape
            out[g] = f"{c} × {h}²"
    return out


def columns(table: StageTable, rows: tuple) -> dict[str, Any]:
    """Typed columns from the grammar; a new row starts as a copy of the last with stride 1, one layer."""
    cc = st.column_config
    last = rows[-1] if rows else None
    out: dict[str, Any] = {"stage": cc.TextColumn("stage", width="small", help="where the row sits in the IR"),
                           "vs paper": cc.TextColumn("vs paper", help="✎ differs from the model's own table "
                                                     "(the paper's at these knobs), ✚ a row it does not have")}
    for f in table.grammar.fields:
        default = 1 if f.key in ("s", "n", "d") else (getattr(last, f.key) if last is not None else None)
        if f.optional and not f.flag:
            default = None  # empty: the family's default for the row
        help = f"{f.help}: {f.describe()}" + (" (empty: the family's default)" if f.optional else "")
        if f.flag:
            out[f.key] = cc.CheckboxColumn(f.key, help=help, default=bool(default))
        elif f.integer and (f.odd or f.hi - f.lo == 1):
            options = [v for v in range(int(f.lo), int(f.hi) + 1) if not f.odd or v % 2]
            out[f.key] = cc.SelectboxColumn(f.key, help=help, options=options, default=default, required=True)
        else:
            out[f.key] = cc.NumberColumn(f.key, help=help, min_value=f.lo, max_value=f.hi, default=default,
                                         step=(2 if f.even else 1) if f.integer else None,
                                         format="%d" if f.integer else "%g", required=not f.optional)
    out["output"] = cc.TextColumn("output", help="output channels × resolution of the row's last layer")
    unit = "layer" if any("." in g for g in table.groups(rows)) else "stage"
    out |= {k: cc.TextColumn(k, help=f"{k.split()[-1]} of this row's {unit}" + (
        ", minus the same row's in the model's own table" if k.startswith("Δ") else ""))
        for k in ("MACs", "params", "Δ MACs", "Δ params")}
    return out


def row_text(record: dict[str, Any], base: dict[str, Any] | None, edited: set[str], table: StageTable) -> str:
    """One editor line as grammar text. Optional fields are written where the user set them (or the
    row had them): a row switched to Fused-MBConv then takes the family's SE for fused rows."""
    grammar = table.grammar
    own_default = grammar.defaults(base or {})
    parts = []
    for f in grammar.fields:
        v = record.get(f.key)
        if v is None or (isinstance(v, float) and v != v):
            continue  # missing: the parser names it (or the family's default for an optional field)
        if f.optional and f.key not in edited and (base is None or base.get(f.key) == own_default.get(f.key)):
            continue
        if f.flag:
            v = int(bool(v))
        elif f.integer and float(v).is_integer():
            v = int(v)
        parts.append(f"{f.key}{format_value(v)}")
    return "".join(parts)


def edited_text(table: StageTable, records: list[dict[str, Any]], delta: dict[str, Any]) -> str:
    """The table the editor shows: its rows with the edits, deletions and additions applied."""
    edits = {int(i): changes for i, changes in (delta.get("edited_rows") or {}).items()}
    deleted = {int(i) for i in delta.get("deleted_rows") or []}
    lines = []
    for i, rec in enumerate(records):
        if i in deleted:
            continue
        lines.append(row_text({**rec, **edits.get(i, {})}, rec, set(edits.get(i, {})), table))
    lines += [row_text(dict(rec), None, set(rec), table) for rec in delta.get("added_rows") or []]
    return "-".join(lines)


def _apply(model: str, key: str, items: cache.Items, own_items: cache.Items, knobs: dict[str, Any]) -> None:
    """The editor changed: apply the whole table if it is valid, else keep the last valid one and say why."""
    table = _table(model)
    records = _frame(model, items, own_items).to_dict("records")  # the table the editor showed
    text = edited_text(table, records, st.session_state.get(key) or {})
    try:
        if not text:
            raise ArchlibError("stages row 1: a table needs at least one row.")
        cfg = archlib.config(model, **{**knobs, "stages": text})
        archlib.lower(model, **cfg)  # the resolution check and the family's own limits
    except ArchlibError as e:
        st.session_state[ERROR] = str(e)
        return
    own = archlib.config(model, **{k: v for k, v in knobs.items() if k != "stages"})["stages"]
    st.session_state[state.knob_key(model, "stages")] = "" if cfg["stages"] == own else cfg["stages"]
    _fresh()


def _fresh() -> None:
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    st.session_state.pop(ERROR, None)


def _reset(model: str) -> None:
    st.session_state[state.knob_key(model, "stages")] = ""
    _fresh()


def _missing(n: int, n_own: int) -> str:
    """Which rows of the model's own table a shorter custom table leaves out, in words."""
    if n >= n_own:
        return ""
    rows = f"row {n_own}" if n + 1 == n_own else f"rows {n + 1}–{n_own}"
    return f" This table has no {rows} of the model's own."


def _footer(model: str, a: Analysis, own: Analysis, custom: bool, missing: str) -> None:
    error = st.session_state.get(ERROR)
    if error:
        st.error(widgets.md_escape(f"{error} This edit is not applied: the network shown is the last valid table."),
                 icon=":material/error:")
    c = st.columns([1.7, 1.3, 4], vertical_alignment="center")
    c[0].button("Reset to the paper's table", icon=":material/restart_alt:", on_click=_reset, args=(model,),
                key="explore.stages.reset", disabled=not custom and not error, width="content")
    if error:
        c[1].button("Discard the edit", icon=":material/undo:", on_click=_fresh, key="explore.stages.discard",
                    width="content")
    t, t0 = a.totals(), own.totals()
    if custom:
        c[2].caption(f"Against the model's own table at these knobs: MACs {human(t0['macs'])} → {human(t['macs'])} "
                     f"({_pct(t['macs'], t0['macs'])}), params {human(t0['params'])} → {human(t['params'])} "
                     f"({_pct(t['params'], t0['params'])}).{missing} In the URL as `stages=`.")
    else:
        c[2].caption("Edit a cell, add a row (+ below the table) or select rows to delete them: the totals, graph "
                     "and layers follow. The table is the `stages` knob: in the sidebar, the URL and the Rebuild tab.")
    for note in a.notes:
        st.info(widgets.md_escape(note), icon=":material/info:")


def _pct(x: int, base: int) -> str:
    return f"{100 * (x / base - 1):+.1f}%" if base else "new"
