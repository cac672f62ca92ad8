"""Published results bundled with archlib: load, validate and query `data/results.csv`.

One row per model variant and source, each with its citation (`source`,
`source_location`), what the source called its compute count (`macs_as_reported`), the
notes that mark conflicts and "unverified:" values, and the registered archlib model and
knobs (`archlib_model`, `archlib_knobs` = "width=0.75;resolution=192") that the row's
configuration opens as. Units: `macs_M` multiply-accumulates in millions, `params_M`
parameters in millions, `activations_M` millions of conv/linear output elements,
`top1_pct`/`top5_pct` percent, `latency_ms` milliseconds on `latency_device`.

The loader checks columns, units and ranges, and parses every row's knobs through the
model's knob schema (never evaluated); bad data raises ArchlibError naming the row.
"""
from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlib.core import registry
from archlib.core.knobs import format_value
from archlib.errors import ArchlibError

DEFAULT_PATH = Path(__file__).parent / "results.csv"
TEXT_COLUMNS = ("family", "model", "variant", "kind", "source_type", "source")
KINDS = ("paper", "torchvision", "timm", "pycls")
#: numeric columns: (low, high, unit) - a value outside is refused with the row named
NUMERIC: dict[str, tuple[float, float, str]] = {
    "top1_pct": (1.0, 100.0, "percent"),
    "top5_pct": (1.0, 100.0, "percent"),
    "params_M": (0.001, 10_000.0, "millions of parameters"),
    "macs_M": (0.01, 10_000_000.0, "millions of multiply-accumulates"),
    "activations_M": (0.001, 100_000.0, "millions of output elements"),
    "latency_ms": (0.01, 1_000_000.0, "milliseconds"),
    "input_res": (16, 2048, "pixels"),
    "width_mult": (0.05, 8.0, "a multiplier"),
}
REQUIRED = TEXT_COLUMNS + tuple(NUMERIC) + ("source_location", "notes", "latency_device", "latency_group",
                                            "latency_other", "macs_as_reported", "archlib_model",
                                            "archlib_knobs")
MAX_KNOBS_TEXT = 1400  # a whole configuration, a stage table (at most 1000 characters) included
_OTHER_LATENCY = re.compile(r"(Pixel \d)\s*:\s*([0-9.]+)\s*ms")


@dataclass(frozen=True)
class Result:
    """One published result: a model variant as one source reports it."""

    row: int  # line of the CSV (the header is line 1)
    family: str
    model: str
    variant: str
    kind: str
    source_type: str
    source: str
    source_location: str
    notes: str
    macs_as_reported: str
    top1: float | None
    top5: float | None
    params_m: float | None
    macs_m: float | None
    activations_m: float | None
    input_res: int | None
    latency_ms: float | None
    latency_device: str
    latency_group: str
    latency_other: str
    archlib_model: str
    knobs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def unverified(self) -> bool:
        """The source's value was not confirmed by a second source (shared/reference marks)."""
        return "unverified" in self.notes.lower()

    @property
    def conflict(self) -> bool:
        """The notes record a disagreement with another source."""
        return "conflict" in self.notes.lower()

    @property
    def citation(self) -> str:
        return f"{self.source}; {self.source_location}" if self.source_location else self.source

    @property
    def knobs_text(self) -> str:
        return format_knobs(self.knobs)

    def latencies(self) -> list[tuple[str, float]]:
        """Published latencies as (device, ms): the main device, then Pixel 2/3 from latency_other."""
        out = [(self.latency_group, self.latency_ms)] if self.latency_ms is not None else []
        if self.latency_group.startswith("Pixel 1"):
            out += [(f"{dev} CPU", float(ms)) for dev, ms in _OTHER_LATENCY.findall(self.latency_other)]
        return out

    def as_dict(self) -> dict[str, Any]:
        """A flat record (for tables, CSV export and charts)."""
        return {
            "row": self.row, "family": self.family, "model": self.model, "variant": self.variant,
            "kind": self.kind, "source_type": self.source_type, "top1_pct": self.top1, "top5_pct": self.top5,
            "params_M": self.params_m, "macs_M": self.macs_m, "activations_M": self.activations_m,
            "input_res": self.input_res, "latency_ms": self.latency_ms, "latency_device": self.latency_device,
            "latency_group": self.latency_group, "archlib_model": self.archlib_model,
            "archlib_knobs": self.knobs_text, "unverified": self.unverified, "conflict": self.conflict,
            "citation": self.citation, "macs_as_reported": self.macs_as_reported, "notes": self.notes,
        }


def format_knobs(knobs: Mapping[str, Any]) -> str:
    """{'width': 0.75, 'resolution': 192} -> 'width=0.75;resolution=192' (the CSV form)."""
    return ";".join(f"{k}={_fmt(v)}" for k, v in knobs.items())


_fmt = format_value


def parse_knobs(model: str, text: str) -> dict[str, Any]:
    """'width=0.75;resolution=192' -> knobs validated by `model`'s schema (never evaluated)."""
    text = text.strip()
    if not text:
        return {}
    if len(text) > MAX_KNOBS_TEXT:
        raise ArchlibError(f"archlib_knobs of {len(text)} characters is too long: at most {MAX_KNOBS_TEXT}.")
    given: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ArchlibError(f"archlib_knobs part {part[:40]!r} is not allowed: write name=value pairs "
                               "separated by ';' (e.g. width=0.75;resolution=192).")
        given[name.strip()] = value.strip()
    return registry.get(model).parse_text(given)


def _number(col: str, raw: str, line: int) -> float | None:
    text = raw.strip()
    if not text:
        return None
    lo, hi, unit = NUMERIC[col]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ArchlibError(f"results row {line}: {col}={raw[:40]!r} is not allowed: {col} must be a number "
                           f"in [{lo:g}, {hi:g}] ({unit}).")
    return value


def _text(raw: Mapping[str, str], col: str, line: int, *, required: bool = False) -> str:
    value = (raw.get(col) or "").strip()
    if required and not value:
        raise ArchlibError(f"results row {line}: column {col} is empty; every row needs a {col}.")
    return value


def _result(raw: Mapping[str, str], line: int) -> Result:
    text = {c: _text(raw, c, line, required=c in TEXT_COLUMNS) for c in REQUIRED if c not in NUMERIC}
    nums = {c: _number(c, raw.get(c) or "", line) for c in NUMERIC}
    if text["kind"] not in KINDS:
        raise ArchlibError(f"results row {line}: kind={text['kind']!r} is not allowed: kind must be one of "
                           f"{', '.join(KINDS)}.")
    if nums["top1_pct"] is not None and nums["top5_pct"] is not None and nums["top5_pct"] < nums["top1_pct"]:
        raise ArchlibError(f"results row {line}: top5_pct={nums['top5_pct']:g} is below top1_pct="
                           f"{nums['top1_pct']:g}; top-5 accuracy can never be lower than top-1.")
    if nums["latency_ms"] is not None and not text["latency_group"]:
        raise ArchlibError(f"results row {line}: latency_ms is given but latency_group is empty; name the device.")
    knobs: dict[str, Any] = {}
    if text["archlib_model"]:
        try:
            knobs = parse_knobs(text["archlib_model"], text["archlib_knobs"])
        except ArchlibError as e:
            raise ArchlibError(f"results row {line}: archlib_model/archlib_knobs: {e}") from None
    elif text["archlib_knobs"]:
        raise ArchlibError(f"results row {line}: archlib_knobs is given without an archlib_model.")
    res = nums["input_res"]
    return Result(line, text["family"], text["model"], text["variant"], text["kind"], text["source_type"],
                  text["source"], text["source_location"], text["notes"], text["macs_as_reported"],
                  nums["top1_pct"], nums["top5_pct"], nums["params_M"], nums["macs_M"], nums["activations_M"],
                  int(res) if res is not None else None, nums["latency_ms"], text["latency_device"],
                  text["latency_group"], text["latency_other"], text["archlib_model"], knobs)


def parse(rows: Iterable[Mapping[str, str]], columns: Iterable[str]) -> tuple[Result, ...]:
    """Validate CSV records (as csv.DictReader gives them) into Results."""
    missing = [c for c in REQUIRED if c not in set(columns)]
    if missing:
        raise ArchlibError(f"results: required column(s) {', '.join(missing)} are missing; the columns must "
                           f"include {', '.join(REQUIRED)}.")
    return tuple(_result(raw, line) for line, raw in enumerate(rows, start=2))


@functools.lru_cache(maxsize=4)
def load(path: str | Path | None = None) -> tuple[Result, ...]:
    """The bundled results (or those at `path`), validated; cached per path."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        with open(p, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            return parse(list(reader), reader.fieldnames or [])
    except OSError as e:
        raise ArchlibError(f"results file {str(p)!r} cannot be read: {e.strerror}.") from None


def families(results: Iterable[Result]) -> list[str]:
    return sorted({r.family for r in results})


def sources(results: Iterable[Result]) -> list[str]:
    return sorted({r.kind for r in results})


def devices(results: Iterable[Result]) -> list[str]:
    return sorted({dev for r in results for dev, _ in r.latencies()})


def disagreements(results: Iterable[Result], *, tol: float = 0.005) -> dict[int, str]:
    """Rows whose MACs differ by more than `tol` from another source for the same archlib
    configuration: row -> a short note naming the other values."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        if r.archlib_model and r.macs_m:
            groups.setdefault((r.archlib_model, r.knobs_text), []).append(r)
    out: dict[int, str] = {}
    for rows in groups.values():
        values = sorted({r.macs_m for r in rows if r.macs_m})
        if len(values) > 1 and values[-1] > values[0] * (1 + tol):
            note = "sources give " + " / ".join(f"{v:g}M" for v in values) + " MACs"
            out.update({r.row: note for r in rows})
    return out
