"""Every session-state and URL key of the app, and the URL codec.

Pure Python (no streamlit import) so it is unit-testable. The URL holds the whole view:
`model`, the model's knob names (`?model=efficientnet_b0&phi=2`) and page parameters.
`decode` validates every value through archlib's knob schema (`Knob.parse`, never eval);
a bad value yields a message naming it and its allowed range, and the default is used.
`encode` writes only what differs from the defaults, so decode(encode(s)) == s.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import archlib
from archlib.core.analysis import DTYPE_BYTES, OPTIMIZER_STATE
from archlib.core.knobs import Knob, format_value
from archlib.errors import ArchlibError

# -- pages -----------------------------------------------------------------
EXPLORE, SCALING, COMPARE, CONCEPTS = "explore", "scaling", "compare", "concepts"
PAGES = (EXPLORE, SCALING, COMPARE, CONCEPTS)
#: pages whose URL carries the sidebar model's knobs
KNOB_PAGES = (EXPLORE, COMPARE)

# -- URL keys ----------------------------------------------------------------
MODEL = "model"
#: query keys Streamlit itself uses: never reported, never written
RESERVED = frozenset({"embed", "embed_options"})
MAX_SLOTS = 4  # Compare: configurations 1..4; slot 1 is the sidebar model

# -- session-state keys (widget keys are built by the helpers below) ----------
SS_DECODED = "_url_decoded"      # the URL has been read for this session
SS_MESSAGES = "_url_messages"    # messages about bad URL values, shown until dismissed
SS_CROSSCHECK = "_crosscheck_for"  # the configuration the cross-check was run for
SS_SOLVE = "_solve_request"      # the Scaling page's last inverse-solver request
SS_BUDGET_INPUT = "scaling.budget_text"

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


# -- page parameters -------------------------------------------------------
@dataclass(frozen=True)
class TextParam:
    """A free-text page parameter (a filter, a budget): length-capped, optionally parsed."""

    name: str
    default: str
    help: str
    max_len: int = 60
    check: Callable[[str], Any] | None = None  # raises ArchlibError on a bad value

    def parse(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ArchlibError(f"{self.name}={value!r} is not allowed: {self.name} must be text.")
        text = value.strip()
        if len(text) > self.max_len or not text.isprintable():
            raise ArchlibError(f"{self.name}={value[:40]!r} is not allowed: {self.name} must be printable "
                               f"text of at most {self.max_len} characters.")
        if self.check is not None and text:
            self.check(text)
        return text


_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?)\s*([kKmMgGtT]?)\s*$")


def parse_amount(text: str, *, name: str = "budget") -> float:
    """'400M', '1.5G', '2e9', '1500000' -> a positive number (a regex, never eval)."""
    m = _NUMBER.match(text) if isinstance(text, str) and len(text) <= 30 else None
    value = float(m.group(1)) * _UNITS[m.group(2).lower()] if m else math.nan
    if not (math.isfinite(value) and 0 < value <= 1e15):
        shown = repr(text[:30]) if isinstance(text, str) else repr(text)
        raise ArchlibError(f"{name}={shown} is not allowed: {name} must be a positive number up to 1e15, "
                           "optionally with a unit K, M, G or T (e.g. 400M, 1.5G).")
    return value


_DURATION = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,2})?)\s*(ms|s)?\s*$")


def parse_ms(text: str, *, name: str = "budget") -> float:
    """'25', '25ms', '0.5s' -> milliseconds (a latency budget; a regex, never eval)."""
    m = _DURATION.match(text) if isinstance(text, str) and len(text) <= 30 else None
    value = float(m.group(1)) * (1000 if m.group(2) == "s" else 1) if m else math.nan
    if not (math.isfinite(value) and 0 < value <= 600_000):
        shown = repr(text[:30]) if isinstance(text, str) else repr(text)
        raise ArchlibError(f"{name}={shown} is not allowed: a latency {name} must be a positive duration up to "
                           "600 s, in milliseconds or with a unit ms or s (e.g. 25, 25ms, 0.5s).")
    return value


def parse_budget(text: str, metric: str = "macs") -> float:
    """A budget in the metric's unit: MACs or parameters (400M, 1.5G), or latency in ms (25ms)."""
    return parse_ms(text) if metric == "latency" else parse_amount(text)


def _check_budget(text: str) -> None:
    try:
        parse_amount(text)
    except ArchlibError:
        try:
            parse_ms(text)
        except ArchlibError:
            raise ArchlibError(f"budget={text[:30]!r} is not allowed: budget must be a count such as 400M or 1.5G, "
                               "or a latency such as 25ms.") from None


def _choice(name: str, default: Any, choices: Iterable[Any], help: str) -> Knob:
    return Knob(name, "choice", default, help, choices=tuple(choices))


VIEWS = ("graph", "layers", "breakdown", "code", "crosscheck")
METRICS = ("macs", "params", "activations", "elementwise")

EXPLORE_PARAMS: tuple[Knob | TextParam, ...] = (
    _choice("view", "graph", VIEWS, "the tab shown"),
    _choice("level", "block", ("stage", "block", "unit", "op"), "graph granularity"),
    _choice("color", "macs", METRICS, "what colours the graph's nodes"),
    _choice("rankdir", "TB", ("TB", "LR"), "graph direction: top-bottom or left-right"),
    Knob("batch", "int", 1, "batch size for the memory estimate", lo=1, hi=4096, step=1),
    _choice("dtype", "float32", tuple(DTYPE_BYTES), "number format for the memory estimate"),
    _choice("optimizer", "adamw", tuple(OPTIMIZER_STATE), "optimizer state in the training estimate"),
    _choice("metric", "macs", METRICS, "what the breakdown charts sum"),
    TextParam("q", "", "filter of the layer table (name or operator contains)"),
)
COMPARE_PARAMS: tuple[Knob | TextParam, ...] = (
    Knob("n", "int", 2, "how many configurations are compared", lo=2, hi=MAX_SLOTS, step=1),
    _choice("metric", "macs", METRICS, "what the per-stage bars show"),
    _choice("level", "stage", ("stage", "block"), "granularity of the per-stage bars"),
)
CONCEPTS_PARAMS: tuple[Knob | TextParam, ...] = (
    Knob("cin", "int", 32, "input channels M", lo=1, hi=2048, step=1),
    Knob("cout", "int", 64, "output channels N", lo=1, hi=2048, step=1),
    Knob("k", "int", 3, "kernel size D_K", lo=1, hi=11, step=1),
    Knob("size", "int", 56, "feature map side D_F (pixels)", lo=1, hi=512, step=1),
    Knob("t", "int", 6, "expansion ratio t of the inverted residual / Fused-MBConv", lo=1, hi=12, step=1),
    Knob("se", "float", 0.25, "squeeze ratio of SE (squeeze channels = ratio x channels)", lo=0.05, hi=1.0,
         step=0.05),
    Knob("groups", "int", 4, "groups of the 1x1 group convolutions (ShuffleNet)", lo=1, hi=16, step=1),
    Knob("squeeze", "int", 16, "Fire: squeeze 1x1 filters s1x1", lo=1, hi=1024, step=1),
    Knob("e1", "int", 64, "Fire: expand 1x1 filters e1x1", lo=1, hi=1024, step=1),
    Knob("e3", "int", 64, "Fire: expand 3x3 filters e3x3", lo=1, hi=1024, step=1),
)

#: the EfficientNet compound-scaling knobs when the family is not registered (same schema)
_EFFNET_FALLBACK = (
    Knob("phi", "float", 0.0, "compound coefficient", lo=0.0, hi=8.0, step=0.1),
    Knob("alpha", "float", 1.2, "depth base (paper: 1.2)", lo=1.0, hi=2.0, step=0.01),
    Knob("beta", "float", 1.1, "width base (paper: 1.1)", lo=1.0, hi=2.0, step=0.01),
    Knob("gamma", "float", 1.15, "resolution base (paper: 1.15)", lo=1.0, hi=2.0, step=0.01),
)
EFFNET_MODEL = "efficientnet_b0"
MOBILENET_MODELS = ("mobilenet_v1", "mobilenet_v2")
REGNET_KNOBS = ("w0", "wa", "wm")
SCALING_LABS = ("efficientnet", "mobilenet", "regnet")


def _registered(name: str) -> bool:
    return name in archlib.list_models()


def regnet_model() -> str | None:
    """A registered model whose family has RegNet's w0/wa/wm knobs (regnet_y_400mf preferred)."""
    names = archlib.list_models()
    ordered = sorted(names, key=lambda n: (n != "regnet_y_400mf", not n.startswith("regnet"), n))
    for n in ordered:
        if set(REGNET_KNOBS) <= {k.name for k in archlib.get_model(n).knobs}:
            return n
    return None


def mobilenet_model() -> str | None:
    return next((m for m in MOBILENET_MODELS if _registered(m)), None)


def scaling_params() -> tuple[Knob | TextParam, ...]:
    """The Scaling page's schema: lab choice, EfficientNet, MobileNet and RegNet knobs, budget."""
    eff = {k.name: k for k in archlib.get_model(EFFNET_MODEL).knobs} if _registered(EFFNET_MODEL) else {}
    out: list[Knob | TextParam] = [_choice("lab", "efficientnet", SCALING_LABS, "which scaling rule")]
    out += [eff.get(k.name, k) for k in _EFFNET_FALLBACK]
    out += [Knob("mn_alpha", "float", 1.0, "MobileNet width multiplier alpha", lo=0.25, hi=2.0, step=0.05),
            Knob("mn_rho", "float", 1.0, "MobileNet resolution multiplier rho (input = 224 rho)",
                 lo=0.25, hi=2.0, step=0.05)]
    reg = regnet_model()
    if reg:
        out += [k for k in archlib.get_model(reg).knobs if k.name not in ("resolution", "num_classes")]
    out += [_choice("budget_metric", "macs", ("macs", "params", "latency"), "what the budget limits"),
            TextParam("budget", "1G", "the budget: a count such as 400M or 1.5G, or a latency such as 25ms",
                      max_len=30, check=_check_budget)]
    return tuple(out)


def page_params(page: str) -> tuple[Knob | TextParam, ...]:
    """The schema of a page's own URL parameters."""
    return {EXPLORE: EXPLORE_PARAMS, COMPARE: COMPARE_PARAMS, CONCEPTS: CONCEPTS_PARAMS}.get(page) or (
        scaling_params() if page == SCALING else ())


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
        return True, clean(spec.parse(raw))
    except ArchlibError as e:
        where = f"{key}: " if key and key != spec.name else ""
        messages.append(f"{where}{e} Using the default, {fmt(spec.default) or 'empty'}.")
        return False, spec.default


def _knobs(model: str, query: Mapping[str, str], prefix: str, used: set[str], messages: list[str]) -> dict[str, Any]:
    """The model's configuration from `prefix + knob` keys; an impossible combination -> defaults."""
    cfg = archlib.config(model)
    given = []
    for knob in archlib.get_model(model).knobs:
        key = prefix + knob.name
        if key in query:
            used.add(key)
            ok, value = _parse(knob, query[key], messages, key)
            if ok:
                cfg[knob.name] = value
                given.append(key)
    if given:
        try:
            archlib.lower(model, **cfg)
        except Exception as e:  # noqa: BLE001  (a family's error must not break the page)
            messages.append(f"{', '.join(given)}: {e} Using the defaults of {model}.")
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


def decode(query: Mapping[str, str], *, page: str = EXPLORE) -> tuple[View, list[str]]:
    """The view a query string asks for, and one message per value that could not be used."""
    messages: list[str] = []
    used: set[str] = set(RESERVED)
    query = {k: v for k, v in query.items() if isinstance(k, str) and isinstance(v, str)}
    fallback = default_model()
    model = _model(query, MODEL, fallback, used, messages)
    view = defaults(page, model or fallback)
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
    # pages without a schema here (added by their own modules) read their own keys
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


def encode(view: View) -> dict[str, str]:
    """The query string of `view`: the model always, everything else only where not default."""
    out = {MODEL: view.model}
    if view.page in KNOB_PAGES:
        out.update(_diff(view.knobs, archlib.config(view.model)))
    base = {p.name: p.default for p in page_params(view.page)}
    out.update(_diff(view.params, base))
    if view.page == COMPARE:
        for slot, (m, cfg) in enumerate(view.others, 2):
            out[f"m{slot}"] = m
            out.update(_diff(cfg, archlib.config(m), f"m{slot}."))
    return out


def seed(view: View) -> dict[str, Any]:
    """Session-state values that make the widgets show `view` (set before they are created)."""
    out: dict[str, Any] = {model_key(1): view.model}
    if view.page in KNOB_PAGES:
        out.update({knob_key(view.model, k): v for k, v in view.knobs.items()})
    out.update({param_key(view.page, k): v for k, v in view.params.items()})
    for slot, (m, cfg) in enumerate(view.others, 2):
        out[model_key(slot)] = m
        out.update({knob_key(m, k, slot): v for k, v in cfg.items()})
    return out


# -- imported models (uploaded ONNX files) ---------------------------------------
#: URL model names of uploads: onnx:<sha256>; never a path (a URL must not open a server's files)
IMPORTED_PREFIX = "onnx:"
SS_IMPORTED = "_imported_models"  # the uploads this session has opened, offered by the model selects


def is_imported(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(IMPORTED_PREFIX)


def open_imported(name: str, key: str, fallback: str, messages: list[str]) -> str | None:
    """`name` when it is an upload kept on this server; else a message (malformed, or unknown hash)."""
    try:
        archlib.get_model(name)
    except ArchlibError as e:
        messages.append(f"{key}: {e} Using {fallback}.")
        return None
    return name
