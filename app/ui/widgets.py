"""Controls generated from knob schemas, the model select, and the shared page furniture.

Widgets never get a `value=`: their value is seeded in session state first (from the URL
on a session's first run, else the default), so a link and a click set state the same way.
`persist_state="session"` keeps values across page switches.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import streamlit as st

import archlib
from app.ui import schema, state
from archlib.core.knobs import Knob
from archlib.errors import ArchlibError

SLIDER_MAX_STEPS = 2000  # wider ranges get a number input: a slider would be too coarse


def _decimals(step: float | None) -> int:
    if not step or float(step).is_integer():
        return 0
    return max(1, len(f"{step:g}".split(".")[-1]))


def describe(spec: Knob | schema.TextParam) -> str:
    """Help text: the knob's own line, its allowed values and its default."""
    if isinstance(spec, schema.TextParam):
        return spec.help
    if spec.kind == "text":
        return f"{spec.help}. Allowed: {spec.describe_range()}. URL key `{spec.name}`."
    return f"{spec.help}. Allowed: {spec.describe_range()}; default {state.fmt(spec.default)}. URL key `{spec.name}`."


def control(spec: Knob | schema.TextParam, key: str, *, label: str | None = None, style: str = "auto",
            container: Any = None, **kw: Any) -> Any:
    """One widget for one schema entry: slider/number for ranges, select or pills for choices."""
    box = container if container is not None else st
    st.session_state.setdefault(key, spec.default)
    label = label or spec.name
    common = dict(key=key, help=describe(spec), persist_state="session", **kw)
    if isinstance(spec, schema.TextParam):
        return box.text_input(label, max_chars=spec.max_len, **common).strip()
    if spec.kind == "text":
        return _text_knob(spec, box, label, common)
    if spec.kind == "choice":
        if style == "pills":
            return box.segmented_control(label, spec.choices, required=True, **common)
        common.setdefault("format_func", state.fmt)
        return box.selectbox(label, spec.choices, index=0, **common)  # index ignored: the session holds the value
    if spec.kind == "bool":
        return box.toggle(label, **common)
    is_int = spec.kind == "int"
    lo, hi = (int(spec.lo), int(spec.hi)) if is_int else (float(spec.lo), float(spec.hi))
    step = (int(spec.step or 1) if is_int else float(spec.step or (hi - lo) / 100))
    fmt = None if is_int else f"%.{_decimals(step)}f"
    if st.session_state.get(key) is None:  # a knob without a default, not given yet: an empty box to fill in
        value = box.number_input(label, min_value=lo, max_value=hi, step=step, format=fmt, value=None,
                                 placeholder="required", **common)
        return None if value is None else state.clean(int(value) if is_int else float(value))
    if style == "number" or (hi - lo) / step > SLIDER_MAX_STEPS:
        value = box.number_input(label, min_value=lo, max_value=hi, step=step, format=fmt, **common)
    else:
        value = box.slider(label, min_value=lo, max_value=hi, step=step, format=fmt, **common)
    return state.clean(int(value) if is_int else float(value))


def _text_knob(spec: Knob, box: Any, label: str, common: dict[str, Any]) -> str:
    """A stage table as text: empty is the model's own table; a bad one is named and the own table used."""
    common.setdefault("placeholder", "the model's own table")
    raw = box.text_input(label, max_chars=spec.grammar.max_len, **common)
    try:
        return spec.parse_text(raw)
    except ArchlibError as e:
        box.error(md_escape(f"{e} Using the model's own table."), icon=":material/error:")
        return spec.default


def model_select(slot: int = 1, *, container: Any = None, label: str = "Model") -> str:
    """The model select of a slot; its options are whatever is registered now, and this session's uploads."""
    box = container if container is not None else st
    key = state.model_key(slot)
    _drop_unavailable(key)
    names = archlib.list_models() + imported_options(st.session_state.get(key))
    if st.session_state.get(key) not in names:
        st.session_state[key] = state.default_model(names) if slot == 1 else state.default_other(
            st.session_state.get(state.MODEL, state.default_model(names)), slot)
    return box.selectbox(label, names, index=0, key=key, persist_state="session", format_func=model_label,
                         help="Every registered model, and the ONNX files opened in this session; its knobs "
                              f"appear below. URL key `{'model' if slot == 1 else f'm{slot}'}`.")


def _drop_unavailable(key: str) -> None:
    """An upload chosen in `key` that can no longer be opened (evicted, damaged) is said and let go
    (before the select is drawn, so the slot's default takes its place)."""
    current = st.session_state.get(key)
    if not state.is_imported(current):
        return
    try:
        archlib.get_model(current)  # cached by content: the page needs it next anyway
    except ArchlibError as e:
        st.session_state.setdefault(state.SS_MESSAGES, []).append(f"{model_label(current)}: {e}")
        seen = st.session_state.get(state.SS_IMPORTED, [])
        if current in seen:
            seen.remove(current)
        del st.session_state[key]


def imported_options(current: Any = None) -> list[str]:
    """The uploads this session has opened (and `current`, when it is one): offered beside the catalogue."""
    seen = st.session_state.setdefault(state.SS_IMPORTED, [])
    return list(state.remember_imported(seen, current))


def model_label(name: str) -> str:
    """How a model is shown: its name, or an upload's file name and short hash, read from the upload's
    description (the file is not parsed). Plain text: escape it (md_escape) where Markdown renders."""
    if not state.is_imported(name):
        return name
    from archlib.importers.models import file_name

    try:
        filename = file_name(name)
    except ArchlibError:
        filename = "unavailable upload"
    return f"{filename} ({name[:17]}…)"


def knob_controls(model: str, slot: int = 1, *, container: Any = None) -> dict[str, Any]:
    """A control for every knob of `model` (from its schema) and a reset button; the values."""
    box = container if container is not None else st
    knobs = archlib.get_model(model).knobs
    values = {k.name: control(k, state.knob_key(model, k.name, slot), container=box) for k in knobs}
    box.button("Reset to the defaults", key=f"reset.{slot}.{model}", on_click=_reset, args=(model, slot),
               icon=":material/restart_alt:", width="stretch")
    return values


def session_knobs(model: str, slot: int = 1) -> dict[str, Any]:
    """The knobs the user set for `model` (Explore's sidebar, or a Compare slot), non-default ones only:
    what a page without the knob controls (Pareto, Hardware) analyses and writes into its link."""
    out = {}
    for k in archlib.get_model(model).knobs:
        v = st.session_state.get(state.knob_key(model, k.name, slot), k.default)
        if v != k.default:
            out[k.name] = v
    return out


def _reset(model: str, slot: int) -> None:
    for k in archlib.get_model(model).knobs:
        st.session_state[state.knob_key(model, k.name, slot)] = k.default


def params(page: str) -> dict[str, Knob | schema.TextParam]:
    return {p.name: p for p in schema.page_params(page)}


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&\"'])")


def md_escape(text: str) -> str:
    """Text (possibly from a URL) made inert for st.markdown: every markup character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def show_url_messages() -> None:
    """The messages about bad URL values, until the user dismisses them."""
    messages = st.session_state.get(state.SS_MESSAGES) or []
    if not messages:
        return
    for m in messages:
        st.warning(md_escape(m), icon=":material/link_off:")
    st.button("Dismiss", key="dismiss_url_messages", icon=":material/close:",
              on_click=lambda: st.session_state.pop(state.SS_MESSAGES, None))


def page_url(query: dict[str, str], path: str) -> str:
    """The full link of this view: the browser's origin, the page path and the query."""
    base = st.context.url or "http://localhost:8501/"
    parts = urlsplit(base)
    root = f"{parts.scheme}://{parts.netloc}"
    return f"{root}/{path}" + ("?" + urlencode(query) if query else "")


def publish(view: state.View, path: str, *, container: Any = None,
            help: str = "Opening it in any browser shows exactly this view.") -> str:
    """Write the view to the URL (state.encode, the one codec; only when it changed) and show
    the page's link with a copy button."""
    query = state.encode(view)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    url = page_url(query, path)
    with container if container is not None else st.sidebar:
        st.markdown("**Link to this view**", help=help + " Use the copy button at the right of the box.")
        st.code(url, language=None, wrap_lines=True)
    return url


def knob_items(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Knob values as a hashable, ordered cache key."""
    return tuple(sorted((k, state.clean(v)) for k, v in values.items()))


def model_caption(model: str) -> str:
    """Family and source, escaped for Markdown (an upload's file name is user data); an upload that
    cannot be opened (evicted meanwhile) gets the reason."""
    try:
        entry = archlib.get_model(model)
    except ArchlibError as e:
        return md_escape(str(e))
    return md_escape(f"{entry.family.name} · {entry.family.paper}")
