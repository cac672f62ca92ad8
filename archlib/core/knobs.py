"""Knob schemas: the typed, ranged parameters every model exposes.

One schema serves the Python API, the CLI and the app's URL codec, so validation and
its messages live here and nowhere else.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from archlib.errors import ArchlibError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class TextGrammar(Protocol):
    """What a text knob needs of its grammar (archlib.core.stages.Grammar is one)."""

    max_len: int

    def canonical(self, value: Any) -> str: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Knob:
    """One parameter of a model family: name, type, range, default and a line of help.

    A "text" knob (a stage table) is parsed by its `grammar` (a tokenizer, never eval) to
    its canonical text; its default "" means the table the model's other knobs give.
    """

    name: str
    kind: str  # "int" | "float" | "choice" | "bool" | "text"
    default: Any
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    step: float | None = None
    grammar: TextGrammar | None = None

    def describe_range(self) -> str:
        """The allowed values, in words, for error messages and help."""
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "text":
            return self.grammar.describe() + " (empty: the model's own table)"
        return f"{'an integer' if self.kind == 'int' else 'a number'} in [{_fmt(self.lo)}, {_fmt(self.hi)}]"

    def parse(self, value: Any) -> Any:
        """Validate `value` (a Python value or a string from a URL/CLI) and return it typed."""
        if self.kind == "choice":
            return self._parse_choice(value)
        if self.kind == "bool":
            return self._parse_bool(value)
        if self.kind == "text":
            return self._parse_text(value)
        return self._parse_number(value)

    def _parse_text(self, value: Any) -> str:
        if isinstance(value, str):
            text = value.strip()
            if len(text) > self.grammar.max_len:
                raise ArchlibError(f"{self.name} is {len(text)} characters long; at most "
                                   f"{self.grammar.max_len} are allowed.")
            return self.grammar.canonical(text) if text else ""
        if isinstance(value, (list, tuple)) and value:
            return self.grammar.canonical(value)
        raise self._bad(value, f"a {type(value).__name__} is not a table")

    def _bad(self, value: Any, why: str = "") -> ArchlibError:
        shown = repr(value[:60]) if isinstance(value, str) else repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        extra = f" ({why})" if why else ""
        return ArchlibError(
            f"{self.name}={shown} is not allowed{extra}: {self.name} must be {self.describe_range()}."
        )

    def _parse_choice(self, value: Any) -> Any:
        text = value.strip() if isinstance(value, str) else None
        for c in self.choices:
            if value == c or text == str(c) or (text is not None and _same_number(text, c)):
                return c
        raise self._bad(value)

    def _parse_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self._bad(value)

    def _parse_number(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise self._bad(value, "a boolean is not a number")
        if isinstance(value, str):
            text = value.strip()
            if not text or len(text) > 40:
                raise self._bad(value, "not a number")
            try:
                num = int(text) if self.kind == "int" else float(text)
            except ValueError:
                if self.kind == "int":
                    try:
                        f = float(text)
                    except ValueError:
                        raise self._bad(value, "not a number") from None
                    if not math.isfinite(f) or f != int(f):
                        raise self._bad(value, "not an integer") from None
                    num = int(f)
                else:
                    raise self._bad(value, "not a number") from None
        elif isinstance(value, (int, float)):
            num = value
        else:
            raise self._bad(value, f"a {type(value).__name__} is not a number")
        if isinstance(num, float) and not math.isfinite(num):
            raise self._bad(value, "not finite")
        if self.kind == "int":
            if isinstance(num, float):
                if num != int(num):
                    raise self._bad(value, "not an integer")
                num = int(num)
        else:
            try:
                num = float(num)
            except OverflowError:
                raise self._bad(value, "out of range") from None
        if (self.lo is not None and num < self.lo) or (self.hi is not None and num > self.hi):
            raise self._bad(value, "out of range")
        return num


def format_value(value: Any) -> str:
    """A knob value as text (URLs, CLI, results): the shortest exact form that `Knob.parse`
    reads back, with float noise (0.30000000000000004) snapped to 12 significant digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = float(f"{value:.12g}")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _same_number(text: str, choice: Any) -> bool:
    """"1" and "1.0" name the numeric choice 1.0 (URLs and formatters write either)."""
    if isinstance(choice, bool) or not isinstance(choice, (int, float)) or len(text) > 40:
        return False
    try:
        return float(text) == choice
    except ValueError:
        return False


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def resolve(schema: Iterable[Knob], given: Mapping[str, Any], *, model: str = "") -> dict[str, Any]:
    """Defaults of `schema` overridden by validated `given` values; unknown names raise."""
    knobs = {k.name: k for k in schema}
    unknown = sorted(set(given) - set(knobs))
    if unknown:
        where = f" for {model}" if model else ""
        allowed = ", ".join(knobs) or "none"
        raise ArchlibError(f"unknown knob {unknown[0]!r}{where}; known knobs: {allowed}.")
    cfg = {name: k.default for name, k in knobs.items()}
    for name, value in given.items():
        if value is None:
            continue
        cfg[name] = knobs[name].parse(value)
    return cfg


def with_defaults(schema: Iterable[Knob], defaults: Mapping[str, Any]) -> tuple[Knob, ...]:
    """The schema with some defaults replaced (a preset of a family)."""
    out = []
    for k in schema:
        out.append(replace(k, default=k.parse(defaults[k.name])) if k.name in defaults else k)
    return tuple(out)


# Knobs shared across families, named once (the names are also URL keys).
def resolution(default: int, lo: int = 32, hi: int = 1024) -> Knob:
    return Knob("resolution", "int", default, "input image side in pixels", lo=lo, hi=hi, step=1)


def width(default: float = 1.0, lo: float = 0.1, hi: float = 4.0) -> Knob:
    return Knob("width", "float", default, "width (channel) multiplier", lo=lo, hi=hi, step=0.05)


def depth(default: float = 1.0, lo: float = 0.1, hi: float = 6.0) -> Knob:
    return Knob("depth", "float", default, "depth (layers per stage) multiplier", lo=lo, hi=hi, step=0.05)


def num_classes(default: int = 1000) -> Knob:
    return Knob("num_classes", "int", default, "classifier outputs", lo=1, hi=100000, step=1)


def stages(grammar: TextGrammar, scaling: str) -> Knob:
    """The `stages` knob of a table-driven family: "" (its default) is the model's own table."""
    return Knob("stages", "text", "", f"stage table: rows joined by '-', each row key+number fields; empty: "
                f"the model's own table; {scaling}", grammar=grammar)
