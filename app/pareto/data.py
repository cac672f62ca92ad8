"""The Pareto page's data, without streamlit: its URL schema, the points table and fronts.

Published points carry their published accuracy and costs; a user's configuration that
equals a published configuration is that point; any other configuration has no accuracy
at all and is kept apart (`custom`), placed on the cost axis only.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

import archlib
from app.ui.state import TextParam
from archlib.core.knobs import Knob
from archlib.data import pareto, results
from archlib.errors import ArchlibError

PAGE = "pareto"
#: x axes: column of the points table, axis title, unit
AXES: dict[str, tuple[str, str]] = {
    "macs": ("macs_M", "MACs (millions, log)"),
    "params": ("params_M", "Parameters (millions, log)"),
    "activations": ("activations_M", "Activations (millions of conv/linear outputs, log)"),
    "latency": ("latency_ms", "Published latency (ms, log) on the chosen device"),
    "measured": ("measured_ms", "Latency measured on this host (ms, log)"),
}
FRONTS = ("both", "source", "overall", "none")
RESULTS = results.load()
FAMILIES = tuple(results.families(RESULTS))
SOURCES = tuple(results.sources(RESULTS))
DEVICES = tuple(results.devices(RESULTS))


def _list_check(allowed: Iterable[str], name: str):
    allowed = tuple(allowed)

    def check(text: str) -> None:
        bad = [t for t in split(text) if t not in allowed]
        if bad:
            raise ArchlibError(f"{name}={bad[0][:40]!r} is not allowed: {name} must be a comma-separated list "
                               f"of {', '.join(allowed)}.")
    return check


def split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_accuracy(text: str) -> float | None:
    """A top-1 accuracy the user types, in percent (0, 100]; empty: none."""
    if not text.strip():
        return None
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        value = math.nan
    if not (0 < value <= 100):
        raise ArchlibError(f"acc={text[:20]!r} is not allowed: acc must be a top-1 accuracy in percent, a number in "
                           "(0, 100] such as 76.1.")
    return value


PARAMS: tuple[Knob | TextParam, ...] = (
    Knob("x", "choice", "macs", "the cost axis", choices=tuple(AXES)),
    TextParam("fam", "", "families shown (comma-separated; empty: all)", max_len=400,
              check=_list_check(FAMILIES, "fam")),
    TextParam("src", "", "sources shown (comma-separated; empty: all)", max_len=80,
              check=_list_check(SOURCES, "src")),
    Knob("dev", "choice", DEVICES[0], "device of the published latency", choices=DEVICES),
    Knob("front", "choice", "both", "Pareto frontiers drawn", choices=FRONTS),
    Knob("unverified", "bool", True, "show values marked unverified"),
    TextParam("cfg", "", "knobs of the sidebar model shown on the cost axis (name=value;...)", max_len=200),
    TextParam("acc", "", "a top-1 accuracy (%) you enter for the sidebar model when it has no published one "
              "(drawn, and marked as entered by you)", max_len=8, check=parse_accuracy),
)


def canon(model: str, knobs: Mapping[str, Any]) -> str:
    """One key per full configuration (defaults filled in), as the store keys it."""
    return _canon(model, results.format_knobs(knobs))


@functools.lru_cache(maxsize=4096)
def _canon(model: str, knobs_text: str) -> str:
    cfg = archlib.config(model, **results.parse_knobs(model, knobs_text))
    return model + json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)


def _analytic(model: str, knobs: Mapping[str, Any]) -> dict[str, float]:
    return dict(_analytic_cached(model, results.format_knobs(knobs)))


@functools.lru_cache(maxsize=1024)
def _analytic_cached(model: str, knobs_text: str) -> tuple[tuple[str, float], ...]:
    t = archlib.analyze(model, **results.parse_knobs(model, knobs_text)).totals()
    return (("macs_M", t["macs"] / 1e6), ("params_M", t["params"] / 1e6), ("activations_M", t["activations"] / 1e6))


def published(device: str, measured: Mapping[str, float]) -> pd.DataFrame:
    """One row per published result, with every cost axis filled where known."""
    disagree = results.disagreements(RESULTS)
    rows = []
    for r in RESULTS:
        d = r.as_dict()
        key = canon(r.archlib_model, r.knobs) if r.archlib_model else ""
        act_src = "published" if r.activations_m else ""
        ours = _analytic(r.archlib_model, r.knobs) if r.archlib_model else {}
        d.update(archlib_macs_M=ours.get("macs_M"), archlib_params_M=ours.get("params_M"))
        if not r.activations_m and r.archlib_model:
            d["activations_M"] = ours["activations_M"]
            act_src = "archlib count of the same configuration"
        lat = dict(r.latencies())
        d.update(id=f"r{r.row}", label=f"{r.model}", config_key=key, activations_source=act_src,
                 latency_ms=lat.get(device), measured_ms=measured.get(key) if key else None,
                 disagreement=disagree.get(r.row, ""), what="published")
        rows.append(d)
    return pd.DataFrame(rows)


def filtered(df: pd.DataFrame, fam: str, src: str, unverified: bool) -> pd.DataFrame:
    keep = pd.Series(True, index=df.index)
    if split(fam):
        keep &= df["family"].isin(split(fam))
    if split(src):
        keep &= df["kind"].isin(split(src))
    if not unverified:
        keep &= ~df["unverified"]
    return df[keep]


def plotted(df: pd.DataFrame, axis: str) -> pd.DataFrame:
    """The rows that have both an accuracy and a positive value on `axis`."""
    col = AXES[axis][0]
    ok = df["top1_pct"].notna() & df[col].notna()
    return df[ok & (pd.to_numeric(df[col], errors="coerce") > 0)]


def fronts(df: pd.DataFrame, axis: str, which: str) -> dict[str, list[int]]:
    """Frontier row labels of `df` per source ("source:<kind>") and/or overall ("overall")."""
    col = AXES[axis][0]
    recs = df.to_dict("records")
    out: dict[str, list[int]] = {}
    if which in ("both", "source"):
        for kind, idx in pareto.frontier_by(recs, col, "top1_pct", "kind").items():
            out[f"source:{kind}"] = [df.index[i] for i in idx]
    if which in ("both", "overall"):
        out["overall"] = [df.index[i] for i in pareto.frontier_by(recs, col, "top1_pct")["all"]]
    return out


def user_points(configs: Iterable[tuple[str, Mapping[str, Any]]], pub: pd.DataFrame,
                measured: Mapping[str, float], *, accuracy: float | None = None) -> pd.DataFrame:
    """The user's configurations: analytic costs, measured latency, and the published rows that
    are exactly this configuration (then it *is* those points; else `custom`, no accuracy unless
    the user entered one for the first: `user_top1`, always shown as entered by the user)."""
    rows = []
    for i, (model, knobs) in enumerate(configs):
        key = canon(model, knobs)
        same = pub.index[pub["config_key"] == key].tolist()
        rows.append({"id": f"u{i}", "model": model, "knobs": results.format_knobs(knobs), "config_key": key,
                     **_analytic(model, knobs), "measured_ms": measured.get(key),
                     "published_rows": same, "custom": not same,
                     "user_top1": accuracy if i == 0 and not same else None})
    return pd.DataFrame(rows)


def nearest(pub: pd.DataFrame, axis: str, value: float, family: str | None, n: int = 3) -> pd.DataFrame:
    """The published points closest to `value` on the (log) cost axis, same family first."""
    col = AXES[axis][0]
    df = plotted(pub, axis)
    if family and (df["family"] == family).any():
        df = df[df["family"] == family]
    dist = (df[col].astype(float).map(math.log) - math.log(value)).abs()
    return df.loc[dist.sort_values().index[:n]]


def family_of(model: str) -> str:
    """The results' family name of a registered model (ResNet-50 etc. are folded into ResNet)."""
    return archlib.get_model(model).family.name


def host_id_of(info: Mapping[str, Any]) -> str:
    from archlib.hardware.host import host_id

    return host_id(info)
