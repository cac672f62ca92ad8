"""Stage tables as text: the grammar of the `stages` knob, its parser and its canonical form.

The grammar is fixed (links and scripts depend on it): rows are joined by '-'; a row is a
run of fields, each a lower-case key followed by a number (digits, optionally a decimal
point and more digits), in any order. EfficientNet-B0 is

    t1k3s1c16n1-t6k3s2c24n2-t6k5s2c40n2-t6k3s2c80n3-t6k5s1c112n3-t6k5s2c192n4-t6k3s1c320n1

A family declares its keys (`Field`: range, optional or not) and the frozen dataclass its
rows are; `Grammar.parse` tokenizes with a regular expression (nothing is evaluated) and
returns those typed rows, `Grammar.format` the canonical text: the family's field order,
optional fields only where they differ from the family's default for that row, numbers
as `format_value` writes them. So parse(format(rows)) == rows, and every spelling of a
table has one canonical string, which URLs, CLI lines and results print.

Every error is an ArchlibError that names the row (counted from 1), the field and the
allowed range.
"""
from __future__ import annotations

import functools
import math
import re
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from archlib.core.knobs import format_value
from archlib.errors import ArchlibError

MAX_TEXT = 1000  # characters: 16 rows of the longest fields fit in about half of that
MAX_ROWS = 16
_FIELD = re.compile(r"([a-z]+)(\d{1,12}(?:\.\d{1,12})?)")


@dataclass(frozen=True)
class Field:
    """One key of a row: what it means and the numbers it allows."""

    key: str
    help: str  # a few words: "depthwise kernel"
    lo: float
    hi: float
    integer: bool = True
    odd: bool = False
    even: bool = False
    flag: bool = False  # 0 or 1, typed as a bool
    optional: bool = False  # absent: the family's default for the row

    def describe(self) -> str:
        """The allowed values in words: 'an odd integer in [1, 11]'."""
        if self.flag:
            return "0 or 1"
        if self.integer and self.hi - self.lo == 1:
            return f"{_num(self.lo)} or {_num(self.hi)}"
        kind = "an odd integer" if self.odd else "an even integer" if self.even else \
            "an integer" if self.integer else "a number"
        return f"{kind} in [{_num(self.lo)}, {_num(self.hi)}]"

    def value(self, row: int, number: str) -> Any:
        """The typed value of `number` (digits from the tokenizer), or an error naming row and field."""
        x = float(number)
        if self.integer or self.flag:
            if not x.is_integer():
                raise self.bad(row, number, "not an integer")
            x = int(x)
        else:
            x = float(f"{x:.12g}")  # the precision format_value writes, so parse(format(t)) == t
        if not self.lo <= x <= self.hi or (self.odd and x % 2 != 1) or (self.even and x % 2 != 0):
            raise self.bad(row, number)
        return bool(x) if self.flag else x

    def bad(self, row: int, number: str, why: str = "") -> ArchlibError:
        extra = f" ({why})" if why else ""
        return ArchlibError(f"stages row {row}, field {self.key}: {self.key}{number} is not allowed{extra}; "
                            f"{self.key} ({self.help}) must be {self.describe()}.")

    def text(self, value: Any) -> str:
        return f"{self.key}{int(value) if self.flag else format_value(value)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _no_defaults(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Grammar:
    """A family's row grammar: its fields (in canonical order), its row type and defaults.

    `defaults(values)` gives the family's value of each optional field for a row whose
    other fields are `values`; `check(row_number, row)` raises for what the field ranges
    cannot say (RegNet's width divisible by group width x bottleneck ratio).
    """

    fields: tuple[Field, ...]
    row_type: type
    defaults: Callable[[Mapping[str, Any]], Mapping[str, Any]] = _no_defaults
    check: Callable[[int, Any], None] | None = None
    max_rows: int = MAX_ROWS
    max_len: int = MAX_TEXT

    def __post_init__(self) -> None:
        names = {f.name for f in fields(self.row_type)}
        if not {f.key for f in self.fields} <= names:
            raise ValueError(f"row type {self.row_type.__name__} lacks some of the keys")

    def describe(self) -> str:
        """The grammar in a sentence, for help texts and error messages."""
        parts = [f"{f.key} ({f.help}: {f.describe()}{', optional' if f.optional else ''})" for f in self.fields]
        return (f"1 to {self.max_rows} rows joined by '-', each a run of fields (a lower-case key and a number, "
                f"in any order): {'; '.join(parts)}")

    def parse(self, text: str) -> tuple[Any, ...]:
        """The typed rows of `text`; an ArchlibError naming row, field and range if it is not a table."""
        if not isinstance(text, str):
            raise ArchlibError(f"stages={reprlib.repr(text)} is not allowed: stages must be text (rows joined by '-') "
                               f"or a list of the family's typed rows, not a {type(text).__name__}.")
        if len(text) > self.max_len:
            raise ArchlibError(f"stages is {len(text)} characters long; at most {self.max_len} are allowed.")
        rows = text.strip().split("-")
        if len(rows) > self.max_rows:
            raise ArchlibError(f"stages row {self.max_rows + 1}: a table has 1 to {self.max_rows} rows, "
                               f"this one has {len(rows)}.")
        return tuple(self._row(i, r.strip()) for i, r in enumerate(rows, 1))

    def _row(self, i: int, text: str) -> Any:
        by_key = {f.key: f for f in self.fields}
        values: dict[str, Any] = {}
        pos = 0
        for m in _FIELD.finditer(text):
            if m.start() != pos:
                raise _not_a_field(i, text[pos:m.start()])
            key, number = m.groups()
            pos = m.end()
            if key not in by_key:
                raise ArchlibError(f"stages row {i}, field {key}: unknown key {key!r}; the keys are "
                                   f"{', '.join(f.key for f in self.fields)}.")
            if key in values:
                raise ArchlibError(f"stages row {i}, field {key}: given twice; each field appears once "
                                   f"per row ({key} must be {by_key[key].describe()}).")
            values[key] = by_key[key].value(i, number)
        if pos != len(text):
            raise _not_a_field(i, text[pos:])
        for f in self.fields:
            if f.key not in values and not f.optional:
                raise ArchlibError(f"stages row {i}, field {f.key}: missing; {f.key} ({f.help}) must be "
                                   f"{f.describe()}.")
        values = {**self.defaults(values), **values}
        row = self.row_type(**{f.key: values[f.key] for f in self.fields})
        if self.check is not None:
            self.check(i, row)
        return row

    def format(self, rows: Sequence[Any]) -> str:
        """The canonical text of typed rows (optional fields only where they differ from the default)."""
        rows = tuple(rows)
        try:
            return _formatted(self, rows)  # rows are frozen dataclasses: every config of a model asks again
        except TypeError:  # a row type that is not hashable
            return self._format(rows)

    def _format(self, rows: Sequence[Any]) -> str:
        out = []
        for row in rows:
            values = {f.key: getattr(row, f.key) for f in self.fields}
            default = self.defaults(values)
            out.append("".join(f.text(values[f.key]) for f in self.fields
                               if not f.optional or values[f.key] != default.get(f.key)))
        return "-".join(out)

    def canonical(self, value: Any) -> str:
        """`value` (text, or a sequence of typed rows) as its canonical text, validated."""
        if isinstance(value, (list, tuple)) and value and all(isinstance(r, self.row_type) for r in value):
            value = self.format(value)
        return self.format(self.parse(value))


@functools.lru_cache(maxsize=1024)
def _formatted(grammar: Grammar, rows: tuple[Any, ...]) -> str:
    return grammar._format(rows)


def _not_a_field(row: int, chunk: str) -> ArchlibError:
    shown = chunk[:12] + ("…" if len(chunk) > 12 else "")
    hint = " (keys are lower-case)" if any(c.isupper() for c in chunk) else \
        " (a key needs a number after it)" if chunk.isalpha() else ""
    return ArchlibError(f"stages row {row}, field {shown!r}: not a field{hint}; a field is a lower-case key "
                        f"followed by a number, e.g. k3 or se0.25.")


@dataclass(frozen=True)
class StageTable:
    """A family's `stages` knob: its grammar, the table its other knobs give, and how rows map to the IR.

    `derive(cfg)` is the family's own table under the other knobs (the registered model's
    when they are its defaults); `overrides` names the knobs a custom table replaces;
    `groups(rows)` gives the IR group (`s3`, or `s2.b1` for one-layer rows) of each row.
    """

    grammar: Grammar
    derive: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    groups: Callable[[Sequence[Any]], list[str]]
    overrides: tuple[str, ...] = ()

    def text(self, cfg: Mapping[str, Any]) -> str:
        """The canonical table of a configuration: its `stages`, or the one its other knobs give."""
        return cfg.get("stages") or self.grammar.format(self.derive(cfg))

    def rows(self, cfg: Mapping[str, Any]) -> tuple[Any, ...]:
        """The typed rows a configuration builds (its own table's rows are never range-checked)."""
        own = self.derive(cfg)
        given = cfg.get("stages") or ""
        if not given or given == self.grammar.format(own):
            return own
        return self.grammar.parse(given)


def stage_groups(rows: Sequence[Any]) -> list[str]:
    """One stage per row: `s1`, `s2`, ... (MBConv, RegNet and ShuffleNet tables)."""
    return [f"s{i}" for i in range(1, len(rows) + 1)]


def check_resolution(resolution: int, strides: Sequence[tuple[int, str, int]], *, before: int = 1) -> None:
    """Refuse a table whose stride-2 layers would halve a 1x1 feature map.

    `strides` holds (row number, field naming the stride or "", stride) in order; `before`
    stride-2 layers (stem, pooling) come first. Each stride-2 layer needs an input at least
    2 px wide (same padding: out = ceil(in / 2)).
    """
    side = resolution
    for _ in range(before):
        side = math.ceil(side / 2)
    halvings = before + sum(1 for _, _, s in strides if s == 2)
    need = 2 ** (halvings - 1) + 1
    allowed = before
    for row, key, stride in strides:
        if stride != 2:
            continue
        if side < 2:
            where = f"stages row {row}, field {key}: {key}2" if key else \
                f"stages row {row}: this row's first block (stride 2)"
            raise ArchlibError(
                f"{where} would halve a 1x1 feature map at resolution={resolution}: at this resolution at most "
                f"{allowed - before} of the table's layers may have stride 2 (counting from the first); use "
                f"{'s1 there' if key else 'fewer rows'} or a resolution of at least {need}.")
        side = math.ceil(side / 2)
        allowed += 1


# -- the MBConv table shared by EfficientNet (V1, V2), MobileNetV2 and MnasNet ------------------
@dataclass(frozen=True)
class MBRow:
    """One stage of an MBConv table (EfficientNet Table 1, MobileNetV2 Table 2, ...)."""

    t: int  # expansion ratio
    k: int  # depthwise (or fused) kernel
    s: int  # stride of the first layer
    c: int  # output channels, before the width multiplier
    n: int  # layers, before the depth multiplier
    se: float = 0.0  # squeeze-and-excite width / block input width (0: none)
    f: bool = False  # Fused-MBConv (EfficientNetV2)


def mbconv_grammar(*, se: float, fused: bool) -> Grammar:
    """The MBConv grammar with a family's default SE ratio (none on fused rows), with or without `f`."""
    keys = [Field("t", "expansion ratio", 1, 12), Field("k", "kernel", 1, 11, odd=True),
            Field("s", "stride of the first layer", 1, 2), Field("c", "output channels", 1, 4096),
            Field("n", "layers", 1, 32),
            Field("se", "squeeze-and-excite ratio of the block input (0: none)", 0.0, 1.0, integer=False,
                  optional=True)]
    if fused:
        keys.append(Field("f", "1: Fused-MBConv", 0, 1, flag=True, optional=True))

    def defaults(values: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"se": 0.0 if values.get("f") else se, "f": False}

    return Grammar(tuple(keys), MBRow, defaults)
