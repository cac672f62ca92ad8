"""Every page's URL schema: its own parameters, each a Knob (typed, ranged) or a TextParam.

The codec (app.ui.state) reads and writes these, together with the sidebar model and its
knobs, for every page; a page's parts only look its parameters up here. Pure Python.
"""
from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import archlib
from app.ui.graph import keys as graph_keys
from archlib.core.analysis import DTYPE_BYTES, OPTIMIZER_STATE
from archlib.core.knobs import Knob
from archlib.errors import ArchlibError

# -- pages (their ids are their URL paths; Explore is served at /) ------------------
EXPLORE, SCALING, COMPARE, CONCEPTS, PARETO, PERFORMER = "explore", "scaling", "compare", "concepts", "pareto", \
    "performer"
UPLOAD = "upload"  # "Your model": an ONNX upload; its URL holds the model (`onnx:<sha256>`) and its input size
HARDWARE = "hardware"  # this host: roofline, latency model, calibration
PAGES = (EXPLORE, SCALING, COMPARE, CONCEPTS, PARETO, PERFORMER, UPLOAD, HARDWARE)
MAX_SLOTS = 4  # Compare: configurations 1..4; slot 1 is the sidebar model


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

    parse_text = parse  # a text parameter reads the same from the URL and from a widget


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
    return parse_ms(text) if metric in ("latency", "predicted") else parse_amount(text)


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
#: what can colour the graph: the counts, and ms (this host's predicted latency, app.hardware.model)
COLORS = (*METRICS, "ms")

EXPLORE_PARAMS: tuple[Knob | TextParam, ...] = (
    _choice("view", "graph", VIEWS, "the tab shown"),
    _choice("level", "block", ("stage", "block", "unit", "op"), "graph granularity"),
    _choice("color", "macs", COLORS, "what colours the graph's nodes (ms: predicted on this host)"),
    _choice("rankdir", "TB", ("TB", "LR"), "graph direction: top-bottom or left-right"),
    Knob("batch", "int", 1, "batch size for the memory estimate", lo=1, hi=4096, step=1),
    _choice("dtype", "float32", tuple(DTYPE_BYTES), "number format for the memory estimate"),
    _choice("optimizer", "adamw", tuple(OPTIMIZER_STATE), "optimizer state in the training estimate"),
    _choice("metric", "macs", METRICS, "what the breakdown charts sum"),
    TextParam("q", "", "filter of the layer table (name or operator contains)"),
    # graph groups drawn expanded and the selected node; names are checked against the model by app.ui.graph.keys
    TextParam("expand", "", "groups drawn expanded in the graph, comma-separated (e.g. s2.b1,s4)",
              max_len=graph_keys.MAX_EXPAND),
    TextParam("focus", "", "the node selected in the graph; its rows are highlighted in the layer table",
              max_len=graph_keys.MAX_NAME),
)
COMPARE_PARAMS: tuple[Knob | TextParam, ...] = (
    Knob("n", "int", 2, "how many configurations are compared", lo=2, hi=MAX_SLOTS, step=1),
    _choice("metric", "macs", METRICS, "what the per-stage bars show"),
    _choice("level", "stage", ("stage", "block"), "granularity of the per-stage bars and the graphs"),
    TextParam("expand", "", "groups drawn expanded in the graphs, comma-separated (e.g. s2.b1,s4)",
              max_len=graph_keys.MAX_EXPAND),
    TextParam("focus", "", "the name selected in the graphs", max_len=graph_keys.MAX_NAME),
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

EFFNET_MODEL = "efficientnet_b0"
EFFNET_KNOBS = ("phi", "alpha", "beta", "gamma")
MOBILENET_MODEL = "mobilenet_v1"
REGNET_MODEL = "regnet_y_400mf"
SCALING_LABS = ("efficientnet", "mobilenet", "regnet")


@functools.cache
def scaling_params() -> tuple[Knob | TextParam, ...]:
    """The Scaling page's schema: lab choice, EfficientNet, MobileNet and RegNet knobs, budget."""
    eff = {k.name: k for k in archlib.get_model(EFFNET_MODEL).knobs}
    out: list[Knob | TextParam] = [_choice("lab", "efficientnet", SCALING_LABS, "which scaling rule")]
    out += [eff[name] for name in EFFNET_KNOBS]
    out.append(eff["stages"])  # the base network phi scales: B0's Table 1 or your own
    out += [Knob("mn_alpha", "float", 1.0, "MobileNet width multiplier alpha", lo=0.25, hi=2.0, step=0.05),
            Knob("mn_rho", "float", 1.0, "MobileNet resolution multiplier rho (input = 224 rho)",
                 lo=0.25, hi=2.0, step=0.05)]
    out += [k for k in archlib.get_model(REGNET_MODEL).knobs if k.name not in ("resolution", "num_classes", "stages")]
    out += [_choice("budget_metric", "macs", ("macs", "params", "predicted", "latency"),
                    "what the budget limits (predicted: this host's latency model; latency: measured)"),
            TextParam("budget", "1G", "the budget: a count such as 400M or 1.5G, or a latency such as 25ms",
                      max_len=30, check=_check_budget)]
    return tuple(out)


# -- Pareto --------------------------------------------------------------------------
PARETO_AXES = ("macs", "params", "activations", "latency", "measured", "predicted")
PARETO_FRONTS = ("both", "source", "overall", "none")


def _list_check(allowed: Iterable[str], name: str) -> Callable[[str], None]:
    allowed = tuple(allowed)

    def check(text: str) -> None:
        bad = [t for t in split(text) if t not in allowed]
        if bad:
            raise ArchlibError(f"{name}={bad[0][:40]!r} is not allowed: {name} must be a comma-separated list "
                               f"of {', '.join(allowed)}.")
    return check


def split(text: str) -> list[str]:
    """A comma-separated URL list ('a, b,,c') as its items."""
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_accuracy(text: str) -> float | None:
    """A top-1 accuracy the user types, in percent (0, 100]; empty: none (a regex, never eval)."""
    t = text.strip().rstrip("%").strip() if isinstance(text, str) else ""
    if not t:
        return None
    value = float(t) if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,4})?", t) else math.nan
    if not (0 < value <= 100):
        raise ArchlibError(f"acc={str(text)[:20]!r} is not allowed: acc must be a top-1 accuracy in percent, a "
                           "number in (0, 100] such as 76.1.")
    return value


@functools.cache
def pareto_params() -> tuple[Knob | TextParam, ...]:
    """The Pareto page's schema: axis, filters (from the bundled results), fronts."""
    from archlib.data import results

    rows = results.load()
    families, sources, devices = (tuple(f(rows)) for f in (results.families, results.sources, results.devices))
    return (
        _choice("x", "macs", PARETO_AXES, "the cost axis"),
        TextParam("fam", "", "families shown (comma-separated; empty: all)", max_len=400,
                  check=_list_check(families, "fam")),
        TextParam("src", "", "sources shown (comma-separated; empty: all)", max_len=80,
                  check=_list_check(sources, "src")),
        _choice("dev", devices[0], devices, "device of the published latency"),
        _choice("front", "both", PARETO_FRONTS, "Pareto frontiers drawn"),
        Knob("unverified", "bool", True, "show values marked unverified"),
        TextParam("acc", "", "a top-1 accuracy (%) you enter for the sidebar model when it has no published one "
                  "(drawn, and marked as entered by you)", max_len=8, check=parse_accuracy),
    )


# -- Performer -----------------------------------------------------------------------
PERFORMER_VIEWS = ("cost", "latency", "error")
VIT_MODELS = ("deit_tiny_patch16_224", "deit_small_patch16_224", "vit_b_16")
PERFORMER_PARAMS: tuple[Knob, ...] = (
    _choice("view", "cost", PERFORMER_VIEWS, "what the page shows"),
    Knob("head_dim", "int", 32, "head dimension d_h", lo=4, hi=256, step=1),
    Knob("heads", "int", 1, "attention heads (MACs and memory grow with them)", lo=1, hi=16, step=1),
    Knob("features", "int", 110, "FAVOR+ random features m (d_h ln d_h = 110 at d_h = 32)", lo=1, hi=1024, step=1),
    _choice("axis", "tokens", ("tokens", "image"),
            "x axis: tokens, or image side at the patch size ((side / patch)^2 tokens)"),
    Knob("patch", "int", 16, "patch side in pixels, for the image axis", lo=2, hi=64, step=1),
    Knob("max_tokens", "int", 16384, "the longest sequence charted and timed", lo=256, hi=1_048_576, step=1),
    _choice("dtype", "float32", tuple(DTYPE_BYTES), "number format of the memory estimate"),
    _choice("source", "random", ("random", "vit"), "inputs of the error study: random q, k, v or a built ViT's own"),
    Knob("tokens", "int", 196, "tokens of the random inputs", lo=8, hi=1024, step=1),
    Knob("scale", "float", 0.5, "standard deviation of the random q and k entries", lo=0.05, hi=2.0, step=0.05),
    Knob("seeds", "int", 8, "feature draws per point (mean and spread)", lo=2, hi=32, step=1),
    _choice("vit", VIT_MODELS[0], VIT_MODELS, "the ViT (random weights, random image) whose q, k, v are used"),
    Knob("block", "int", 1, "the ViT block whose q, k, v are used", lo=1, hi=12, step=1),
)


# -- Hardware ------------------------------------------------------------------------
HARDWARE_VIEWS = ("roofline", "rank", "accuracy")
HARDWARE_PARAMS: tuple[Knob, ...] = (
    _choice("view", "roofline", HARDWARE_VIEWS, "the tab shown: the roofline, MACs vs latency, the calibration's "
            "accuracy"),
)


def page_params(page: str) -> tuple[Knob | TextParam, ...]:
    """The schema of a page's own URL parameters (the model and its knobs are the codec's)."""
    fixed = {EXPLORE: EXPLORE_PARAMS, COMPARE: COMPARE_PARAMS, CONCEPTS: CONCEPTS_PARAMS,
             PERFORMER: PERFORMER_PARAMS, HARDWARE: HARDWARE_PARAMS}
    if page in fixed:
        return fixed[page]
    return {SCALING: scaling_params, PARETO: pareto_params}.get(page, tuple)()
