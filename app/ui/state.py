"""Every session-state and URL key of the app, and the one URL codec of every page.

Pure Python (no streamlit import) so it is unit-testable. The URL holds the whole view:
`model`, the model's knob names (`?model=efficientnet_b0&phi=2`, spelled the same on every
page that carries knobs) and the page's parameters (app.ui.schema). `decode` parses every
value from text through its schema (`Knob.parse_text`, never eval); a bad value yields a
message naming it and its allowed range, and the default is used. `encode` writes only what
differs from the defaults, so decode(encode(s)) == s. Old Pareto links (`cfg=width=0.5;...`)
are read into the same knobs.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import archlib
from app.ui.schema import COMPARE, EXPLORE, MAX_SLOTS, PAGES, PARETO, TextParam, page_params
from app.ui.schema import CONCEPTS as CONCEPTS  # the page ids, looked up here by the pages
from app.ui.schema import HARDWARE as HARDWARE
from app.ui.schema import PERFORMER as PERFORMER
from app.ui.schema import SCALING as SCALING
from app.ui.schema import UPLOAD as UPLOAD
from archlib.core.knobs import Knob, format_value
from archlib.errors import ArchlibError
from archlib.importers import uploads

#: pages whose URL carries the sidebar model's knobs (an upload's: its input size, which need not be its default)
KNOB_PAGES = (EXPLORE, COMPARE, PARETO, HARDWARE, UPLOAD)

# -- URL keys ----------------------------------------------------------------
MODEL = "model"
#: query keys Streamlit itself uses: never reported, never written
RESERVED = frozenset({"embed", "embed_options"})
#: the Pareto page's old form of the knobs, `cfg=width=0.5;resolution=192`: still read, never written
LEGACY_CFG = "cfg"
#: a longer query (keys and values, in characters) is not read at all: no real view needs a tenth of it,
#: and links past 16 KB may not even reach the app (uvicorn's h11 refuses a request head over 16 KB)
MAX_QUERY_CHARS = 8000

# -- session-state keys (widget keys are built by the helpers below) ----------
SS_DECODED = "_url_decoded"      # the URL has been read for this session
SS_MESSAGES = "_url_messages"    # messages about bad URL values, shown until dismissed
SS_CROSSCHECK = "_crosscheck_for"  # the configuration the cross-check was run for
SS_SOLVE = "_solve_request"      # the Scaling page's last inverse-solver request

DEFAULT_MODELS = ("efficientnet_b0", "mobilenet_v2", "resnet50", "mobilenet_v3_large")


def model_key(slot: int = 1) -> str:
    """Session key of the model select of a Compare slot (1 = the sidebar's)."""
    return MODEL if slot == 1 else f"{COMPARE}.m{slot}"


def knob_key(model: str, name: str, slot: int = 1) -> str:
    """Session key of a knob widget; per model, so ranges and defaults never clash."""
    return f"knob.{model}.{name}" if slot == 1 else f"{COMPARE}.m{slot}.knob.{model}.{name}"


def param_key(page: str, name: str) -> str:
    """Session key of a page parameter's widget."""
    return f"{page}.{name}"


# -- the view state ----------------------------------------------------------
@dataclass
class View:
    """Everything a page shows, as plain values: what the URL encodes."""

    page: str
    model: str
    knobs: dict[str, Any]                      # the full configuration (defaults filled in)
    params: dict[str, Any]                     # the page's parameters (defaults filled in)
    others: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # Compare slots 2..n


def default_model(models: Iterable[str] | None = None) -> str:
    names = list(models) if models is not None else archlib.list_models()
    return next((m for m in DEFAULT_MODELS if m in names), names[0])


def default_other(model: str, slot: int) -> str:
    """The model a Compare slot starts with: a different well-known model where there is one."""
    names = archlib.list_models()
    picks = [m for m in DEFAULT_MODELS if m in names and m != model] or names
    return picks[(slot - 2) % len(picks)]


def defaults(page: str, model: str | None = None) -> View:
    model = model or default_model()
    params = {p.name: p.default for p in page_params(page)}
    view = View(page, model, archlib.config(model), params)
    if page == COMPARE:
        view.others = [(m, archlib.config(m)) for m in (default_other(model, s) for s in range(2, params["n"] + 1))]
    return view


def shown(key: str) -> str:
    """How a query key is named in messages: as is when plain, else quoted and cut."""
    return key if re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", key) else repr(key[:40])


def clean(value: Any) -> Any:
    """Floats snapped to 12 significant digits (slider noise such as 0.30000000000000004)."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def _parse(spec: Knob | TextParam, raw: str, messages: list[str], key: str = "") -> tuple[bool, Any]:
    try:
        return True, clean(spec.parse_text(raw))
    except ArchlibError as e:
        where = f"{key}: " if key and key != spec.name else ""
        # a text knob (a stage table) defaults to "": the table the model's other knobs give
        own = "the model's own table" if getattr(spec, "kind", "") == "text" else "empty"
        messages.append(f"{where}{e} Using the default, {fmt(spec.default) or own}.")
        return False, spec.default


def _knobs(model: str, query: Mapping[str, str], prefix: str, used: set[str], messages: list[str]) -> dict[str, Any]:
    """The model's configuration from `prefix + knob` keys; an impossible combination -> defaults.

    Built from the given values (not patched into the defaults), so a stage table the other
    knobs derive follows them."""
    values: dict[str, Any] = {}
    for knob in archlib.get_model(model).knobs:
        key = prefix + knob.name
        if key in query:
            used.add(key)
            ok, value = _parse(knob, query[key], messages, key)
            if ok:
                values[knob.name] = value
    try:
        cfg = archlib.config(model, **values)
        if values:
            archlib.lower(model, **cfg)
    except Exception as e:  # noqa: BLE001  (a family's error must not break the page)
        messages.append(f"{', '.join(prefix + k for k in values)}: {e} Using the defaults of {model}.")
        cfg = archlib.config(model)
    return cfg


def _model(query: Mapping[str, str], key: str, fallback: str, used: set[str], messages: list[str]) -> str | None:
    if key not in query:
        return None
    used.add(key)
    raw = query[key]
    names = archlib.list_models()
    if isinstance(raw, str) and raw.strip() in names:
        return raw.strip()
    if isinstance(raw, str) and is_imported(raw.strip()):
        return open_imported(raw.strip(), key, fallback, messages)
    messages.append(f"{key}={raw[:60]!r} is not a known model: {key} must be one of {', '.join(names)}. "
                    f"Using {fallback}.")
    return None


def _too_long(query: Mapping[str, str]) -> str | None:
    chars = sum(len(k) + len(v) + 2 for k, v in query.items())
    if chars <= MAX_QUERY_CHARS:
        return None
    return (f"This link's query is {chars:,} characters long; at most {MAX_QUERY_CHARS:,} are read, so none of it "
            "was used and the defaults are shown.")


def _legacy(query: dict[str, str], model: str, used: set[str], messages: list[str]) -> dict[str, str]:
    """An old Pareto link's `cfg=width=0.5;resolution=192` read as the plain knob keys every page
    uses (a plain key given beside it wins)."""
    used.add(LEGACY_CFG)
    out = dict(query)
    knobs = {k.name for k in archlib.get_model(model).knobs}
    for part in filter(None, (p.strip() for p in query[LEGACY_CFG].split(";"))):
        name, sep, value = (t.strip() for t in part.partition("="))
        if sep and name in knobs:
            out.setdefault(name, value)
        else:
            messages.append(f"{LEGACY_CFG}: {part[:40]!r} is not a knob of {model} written name=value (e.g. "
                            f"cfg=width=0.5;resolution=192); it was ignored.")
    return out


def decode(query: Mapping[str, str], *, page: str = EXPLORE) -> tuple[View, list[str]]:
    """The view a query string asks for, and one message per value that could not be used."""
    messages: list[str] = []
    used: set[str] = set(RESERVED)
    query = {k: v for k, v in query.items() if isinstance(k, str) and isinstance(v, str)}
    if too_long := _too_long(query):
        return defaults(page), [too_long]
    fallback = default_model()
    model = _model(query, MODEL, fallback, used, messages)
    view = defaults(page, model or fallback)
    if page == PARETO and LEGACY_CFG in query:
        query = _legacy(query, view.model, used, messages)
    if page in KNOB_PAGES:
        if model or MODEL not in query:
            view.knobs = _knobs(view.model, query, "", used, messages)
        else:  # the knobs belonged to a model we do not know: say so rather than guess
            known = {k.name for k in archlib.get_model(view.model).knobs}
            ignored = sorted(k for k in query if k in known)
            used.update(ignored)
            if ignored:
                messages.append(f"{', '.join(shown(k) for k in ignored)} ignored: the model was not recognised.")
    for spec in page_params(page):
        if spec.name in query:
            used.add(spec.name)
            view.params[spec.name] = _parse(spec, query[spec.name], messages)[1]
    if page == COMPARE:
        view.others = []
        for slot in range(2, view.params["n"] + 1):
            key = f"m{slot}"
            m = _model(query, key, default_other(view.model, slot), used, messages) or default_other(view.model, slot)
            view.others.append((m, _knobs(m, query, f"{key}.", used, messages)))
    unknown = [k for k in query if k not in used] if page in PAGES else []
    accepted = ", ".join(accepted_keys(view))
    for k in unknown[:10]:
        messages.append(f"Unknown parameter {shown(k)} ignored: this page accepts {accepted}.")
    if len(unknown) > 10:
        messages.append(f"{len(unknown) - 10} more unknown parameters ignored.")
    return view, messages


def accepted_keys(view: View) -> list[str]:
    keys = [MODEL]
    if view.page in KNOB_PAGES:
        keys += [k.name for k in archlib.get_model(view.model).knobs]
    keys += [p.name for p in page_params(view.page)]
    if view.page == COMPARE:
        keys += [f"m{s}, m{s}.KNOB" for s in range(2, MAX_SLOTS + 1)]
    return keys


#: a value as the URL writes it (archlib's one formatter, which Knob.parse reads back)
fmt = format_value


def _diff(values: Mapping[str, Any], base: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    return {prefix + k: fmt(v) for k, v in values.items() if k in base and clean(v) != clean(base[k])}


def knob_diff(model: str, knobs: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The knobs a link needs: those unlike their defaults; `stages` only when it is not the
    table the other knobs give (a widget's "" or the derived table itself is left out)."""
    return {prefix + k: fmt(v) for k, v in archlib.get_model(model).overrides(knobs).items()}


def widget_values(model: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration as its knob widgets hold it: a stage table the other knobs give is "" there,
    so moving those knobs still changes it."""
    knobs = archlib.get_model(model).knobs
    return {**{k.name: cfg.get(k.name, k.default) for k in knobs if k.kind != "text"},
            **{k.name: k.default for k in knobs if k.kind == "text"},
            **archlib.get_model(model).overrides(cfg)}


def encode(view: View) -> dict[str, str]:
    """The query string of `view`: the model always, everything else only where not default."""
    out = {MODEL: view.model}
    if view.page in KNOB_PAGES:
        out.update(knob_diff(view.model, view.knobs))
    base = {p.name: p.default for p in page_params(view.page)}
    out.update(_diff(view.params, base))
    if view.page == COMPARE:
        for slot, (m, cfg) in enumerate(view.others, 2):
            out[f"m{slot}"] = m
            out.update(knob_diff(m, cfg, f"m{slot}."))
    return out


def seed(view: View) -> dict[str, Any]:
    """Session-state values that make the widgets show `view` (set before they are created)."""
    out: dict[str, Any] = {model_key(1): view.model}
    if view.page in KNOB_PAGES:
        out.update({knob_key(view.model, k): v for k, v in widget_values(view.model, view.knobs).items()})
    out.update({param_key(view.page, k): v for k, v in view.params.items()})
    for slot, (m, cfg) in enumerate(view.others, 2):
        out[model_key(slot)] = m
        out.update({knob_key(m, k, slot): v for k, v in widget_values(m, cfg).items()})
    return out


# -- imported models (uploaded ONNX files) ---------------------------------------
SS_IMPORTED = "_imported_models"  # the uploads this session has opened, offered by the model selects
#: how many of them a session keeps offering (the oldest go first; a link still opens any upload)
MAX_IMPORTED = 12


def is_imported(name: Any) -> bool:
    """An upload's URL name, onnx:<sha256> (never a path: a URL must not open a server's files)."""
    return isinstance(name, str) and name.startswith(uploads.PREFIX)


def remember_imported(seen: list[str], name: str) -> list[str]:
    """`seen` with `name` added (in place), keeping the newest MAX_IMPORTED uploads."""
    if is_imported(name) and name not in seen:
        seen.append(name)
    del seen[:-MAX_IMPORTED]
    return seen


def open_imported(name: str, key: str, fallback: str, messages: list[str]) -> str | None:
    """`name` when it is an upload kept on this server; else a message (malformed, or unknown hash)."""
    try:
        archlib.get_model(name)
    except ArchlibError as e:
        messages.append(f"{key}: {e} Using {fallback}.")
        return None
    return name
