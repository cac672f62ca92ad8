"""The model registry: names (torchvision/timm style) -> a family, its knobs and a preset.

A family is a knob schema plus a `lower(config) -> IR` function. A model is a family with
some knob defaults fixed (e.g. `efficientnet_b3` = EfficientNet with phi=3). Registering
a name twice raises; looking up an unknown name raises with the known names.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archlib.core.ir import IR
from archlib.core.knobs import Knob, format_value, parse_given, resolve, with_defaults
from archlib.core.stages import StageTable
from archlib.errors import ArchlibError

#: configurations past these sizes are refused before anything is lowered or built
MAX_OPS = 20_000
MAX_BUILD_PARAMS = 1_500_000_000  # 6 GB of float32 weights
MAX_BUILD_ACT_ELEMS = 2_000_000_000  # per sample, summed over op outputs


@dataclass(frozen=True)
class Family:
    """A family of architectures: knob schema, lowering to IR, and where it comes from."""

    name: str
    knobs: tuple[Knob, ...]
    lower: Callable[[Mapping[str, Any]], IR]
    paper: str
    description: str = ""
    stages: StageTable | None = None  # table-driven families: the `stages` knob's grammar and own table


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: a family with preset knob defaults."""

    name: str
    family: Family
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @functools.cached_property
    def knobs(self) -> tuple[Knob, ...]:
        """The family's knob schema with this model's defaults (made once: every config reads it)."""
        return with_defaults(self.family.knobs, self.defaults)

    def config(self, **given: Any) -> dict[str, Any]:
        """Validated configuration: this model's defaults overridden by `given`.

        A table-driven family's `stages` is always filled in: the given table in canonical
        form, else the table the other knobs give (the registered model's own at its defaults).
        """
        cfg = resolve(self.knobs, given, model=self.name)
        if self.family.stages is not None:
            cfg["stages"] = self.family.stages.text(cfg)
        return cfg

    def overrides(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """The knobs to give to get `cfg` back: those unlike their defaults, and `stages` only
        where it is not the table the other knobs give (so links and rebuild lines stay short)."""
        out = {k.name: cfg[k.name] for k in self.knobs if k.name in cfg and k.name != "stages"
               and format_value(cfg[k.name]) != format_value(k.default)}
        table = cfg.get("stages") if self.family.stages is not None else None
        if table:
            try:
                own = self.config(**out)["stages"]
                given = {k.name: k for k in self.knobs}["stages"].parse(table)
            except ArchlibError:
                own, given = "", table
            if given != own:
                out["stages"] = given
        return out

    def notes(self, cfg: Mapping[str, Any]) -> list[str]:
        """What a reader of this configuration should know: knobs a custom table makes inert."""
        table = self.family.stages
        if table is None or not table.overrides:
            return []
        if "stages" not in self.overrides(cfg):
            return []
        return [f"stages takes precedence over {', '.join(table.overrides)}: with a custom stage table they "
                f"do not shape the network."]

    def parse_text(self, given: Mapping[str, str]) -> dict[str, Any]:
        """Knob values written as text (a URL, the CLI, the results CSV), typed; only those given."""
        return parse_given(self.knobs, given, model=self.name, text=True)


_MODELS: dict[str, ModelEntry] = {}


def register(family: Family, name: str, *, description: str = "", **defaults: Any) -> ModelEntry:
    """Register `name` as `family` with preset knob `defaults`."""
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    known = {k.name for k in family.knobs}
    bad = set(defaults) - known
    if bad:
        raise ValueError(f"{name}: defaults {sorted(bad)} are not knobs of {family.name}")
    entry = ModelEntry(name, family, dict(defaults), description or family.description)
    with_defaults(family.knobs, entry.defaults)  # validates the preset values against the schema
    _MODELS[name] = entry
    return entry


#: (does a name belong to it, entry for the name): models from outside the catalogue (archlib.importers)
_RESOLVERS: list[tuple[Callable[[str], bool], Callable[[str], ModelEntry]]] = []


def register_resolver(claims: Callable[[str], bool], resolve: Callable[[str], ModelEntry]) -> None:
    """Let `resolve` answer `get` for the unregistered names `claims` accepts (`onnx:<sha256>`,
    `path/model.onnx`); such models are not listed by `names`."""
    _RESOLVERS.append((claims, resolve))


def get(name: str) -> ModelEntry:
    """The registered model `name` (or an imported one a resolver claims); unknown names raise
    with the known ones."""
    _load_families()
    try:
        return _MODELS[name]
    except (KeyError, TypeError):
        if isinstance(name, str):
            for claims, resolve in _RESOLVERS:
                if claims(name):
                    return resolve(name)
        shown = repr(name)[:80]
        raise ArchlibError(f"unknown model {shown}; known models: {', '.join(sorted(_MODELS))}.") from None


def names() -> list[str]:
    _load_families()
    return sorted(_MODELS)


def entries() -> list[ModelEntry]:
    _load_families()
    return [_MODELS[n] for n in sorted(_MODELS)]


def _load_families() -> None:
    if not _MODELS:
        raise RuntimeError("no model is registered yet: import archlib (its api loads archlib.families) first")


def check_size(name: str, ir: IR, *, for_build: bool) -> None:
    """Refuse configurations too large to analyse, or to build in memory."""
    if len(ir.ops) > MAX_OPS:
        raise ArchlibError(f"{name}: this configuration has {len(ir.ops):,} ops; at most {MAX_OPS:,} are allowed.")
    if not for_build:
        return
    from archlib.core.cost import op_cost

    params = sum(op_cost(op).params for op in ir.ops)
    acts = sum(math.prod(op.out_shape) for op in ir.ops)
    if params > MAX_BUILD_PARAMS:
        raise ArchlibError(f"{name}: {params:,} parameters is too large to build here; at most "
                           f"{MAX_BUILD_PARAMS:,} are allowed (analysis still works).")
    if acts > MAX_BUILD_ACT_ELEMS:
        raise ArchlibError(f"{name}: {acts:,} activation elements per sample is too large to run here; at most "
                           f"{MAX_BUILD_ACT_ELEMS:,} are allowed (analysis still works).")
