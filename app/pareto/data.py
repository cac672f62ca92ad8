"""The Pareto page's data, without streamlit: its URL schema, the points table and fronts.

Published points carry their published accuracy and costs; a user's configuration that
equals a published configuration is that point; any other configuration has no accuracy
at all and is kept apart (`custom`), placed on the cost axis only.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

import archlib
from app.ui import schema
from archlib.data import pareto, results

PAGE = schema.PARETO
#: x axes (schema.PARETO_AXES, the URL's `x`): column of the points table, axis title with its unit
AXES: dict[str, tuple[str, str]] = {
    "macs": ("macs_M", "MACs (millions, log)"),
    "params": ("params_M", "Parameters (millions, log)"),
    "activations": ("activations_M", "Activations (millions of conv/linear outputs, log)"),
    "latency": ("latency_ms", "Published latency (ms, log) on the chosen device"),
    "measured": ("measured_ms", "Latency measured on this host (ms, log)"),
    "predicted": ("predicted_ms", "Latency predicted for this host (ms, log; calibrated model, nothing run)"),
}
#: (model, knobs) -> predicted ms on this host, or None (app.hardware.model.predictor)
Predictor = Callable[[str, Mapping[str, Any]], "float | None"]
RESULTS = results.load()
FAMILIES = tuple(results.families(RESULTS))
SOURCES = tuple(results.sources(RESULTS))
DEVICES = tuple(results.devices(RESULTS))
PARAMS = schema.pareto_params()
split = schema.split
parse_accuracy = schema.parse_accuracy


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


def published(device: str, measured: Mapping[str, float], predicted: Predictor | None = None) -> pd.DataFrame:
    """One row per published result, with every cost axis filled where known (predicted latency for
    every row archlib can build, when this host is calibrated)."""
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
                 predicted_ms=predicted(r.archlib_model, r.knobs) if predicted and r.archlib_model else None,
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
    """Frontier row labels of `df` per source ("source:<kind>") and/or overall ("overall");
    empty lists when `df` is empty."""
    col = AXES[axis][0]
    recs = df.to_dict("records")
    out: dict[str, list[int]] = {}
    if which in ("both", "source"):
        for kind, idx in pareto.frontier_by(recs, col, "top1_pct", "kind").items():
            out[f"source:{kind}"] = [df.index[i] for i in idx]
    if which in ("both", "overall"):
        # no point on this axis yet (nothing measured here): no front, not a KeyError
        out["overall"] = [df.index[i] for i in pareto.frontier_by(recs, col, "top1_pct").get("all", [])]
    return out


def why_empty(pub: pd.DataFrame, shown: pd.DataFrame, view: Mapping[str, Any], *, store_ok: bool = True) -> str:
    """Why nothing is plotted for this view, and what would fill the chart (markdown-safe text);
    `store_ok` False: the results database cannot be used (its own message says why)."""
    fams, srcs, axis = split(view["fam"]), split(view["src"]), view["x"]
    if shown.empty:
        if fams and srcs:
            have = sorted(set(pub.loc[pub["family"].isin(fams), "kind"]))
            return (f"No published result of {', '.join(fams)} comes from {', '.join(srcs)}; their sources are "
                    f"{', '.join(have) or 'none'}. Clear a filter or choose another source.")
        return "Every result the filters select is marked unverified: turn on *Show unverified values*."
    title = AXES[axis][1].split(" (")[0].lower()
    n = len(shown)
    if axis == "measured" and not store_ok:
        return (f"None of the {n} results shown has a latency measured here: the results database cannot be used "
                "(see the message above), so nothing is read or measured until it is moved aside.")
    if axis == "measured":
        return (f"None of the {n} results shown has been measured on this host with the current measurement "
                "settings (device, threads, batch, dtype). Measure them in the *Measure all* tab below, or one "
                "at a time with `python -m archlib measure MODEL`; the *Hosts* tab shows other hosts' measurements.")
    if axis == "predicted":
        return (f"None of the {n} results shown has a predicted latency: this host has no latency model for the "
                "Hardware page's settings yet. Calibrate it there (about 3 minutes, resumable) to predict every "
                "configuration archlib can build.")
    if axis == "latency":
        devs = sorted({d for r in RESULTS if f"r{r.row}" in set(shown["id"]) for d, _ in r.latencies()})
        return (f"None of the {n} results shown has a published latency on {view['dev']}"
                + (f"; they have one on {', '.join(devs)}." if devs else "; none of them has a published latency."))
    return (f"None of the {n} results shown has both a top-1 accuracy and a value on the {title} axis "
            "(a model archlib does not build has no counted activations).")


def user_points(configs: Iterable[tuple[str, Mapping[str, Any]]], pub: pd.DataFrame,
                measured: Mapping[str, float], predicted: Predictor | None = None, *,
                accuracy: float | None = None) -> pd.DataFrame:
    """The user's configurations: analytic costs, measured latency, and the published rows that
    are exactly this configuration (then it *is* those points; else `custom`, no accuracy unless
    the user entered one for the first: `user_top1`, always shown as entered by the user)."""
    rows = []
    for i, (model, knobs) in enumerate(configs):
        key = canon(model, knobs)
        same = pub.index[pub["config_key"] == key].tolist()
        rows.append({"id": f"u{i}", "model": model, "knobs": results.format_knobs(knobs), "config_key": key,
                     **_analytic(model, knobs), "measured_ms": measured.get(key),
                     "predicted_ms": predicted(model, knobs) if predicted else None,
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
