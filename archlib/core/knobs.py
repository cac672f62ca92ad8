"""Knob schemas: the typed, ranged parameters every model exposes.

One schema serves the Python API, the CLI and the app's URL codec, so validation and
its messages live here and nowhere else.
"""
from __future__ import annotations

import math
import numbers
import operator
import re
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from archlib.errors import ArchlibError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
#: numbers in text (URLs, the CLI, the results CSV) use the ASCII digits only: str.isdigit and
#: int() also take '²' or '١٢٨', and int('1_0') is 10
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


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
        """Validate a typed Python value (an int, a number, a bool or one of the choices) and
        return it; text is refused: strings from a URL or a command line go to `parse_text`."""
        if self.kind == "choice":
            for c in self.choices:
                if _same_type(value, c) and value == c:
                    return c
            same = any(_same_type(value, c) for c in self.choices)
            raise self._bad(value, "" if same else self._type_why(value, self.choices[0]))
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise self._bad(value, self._type_why(value, True))
        if self.kind == "text":
            return self._parse_table(value)
        if self.kind == "int":
            if isinstance(value, bool) or not hasattr(value, "__index__"):
                raise self._bad(value, self._type_why(value, 0))
            return self._in_range(value, operator.index(value))
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._bad(value, self._type_why(value, 0.0))
        try:
            num = float(value)
        except OverflowError:
            raise self._bad(value, "out of range") from None
        return self._in_range(value, num)

    def parse_text(self, text: str) -> Any:
        """Validate text from a URL or a command line ('0.5', 'true', '224') and return it typed."""
        if not isinstance(text, str):
            raise self._bad(text, f"a {type(text).__name__}, where text was expected")
        t = text.strip()
        if self.kind == "text":
            return self._parse_table(t)
        if self.kind == "choice":
            for c in self.choices:
                if t == str(c) or _same_number(t, c):
                    return c
            raise self._bad(text)
        if self.kind == "bool":
            if t.lower() in _TRUE | _FALSE:
                return t.lower() in _TRUE
            raise self._bad(text)
        if self.kind == "int":
            if not (0 < len(t) <= 40 and _INT_TEXT.fullmatch(t)):
                raise self._bad(text, "not an integer: write it with the digits 0-9")
            return self._in_range(text, int(t))
        if t.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise self._bad(text, "not finite")
        if not (0 < len(t) <= 40 and _FLOAT_TEXT.fullmatch(t)):
            raise self._bad(text, "not a number: write it with the digits 0-9, a point and an optional exponent")
        num = float(t)
        return self._in_range(text, num)

    def _parse_table(self, value: Any) -> str:
        """A text knob's value (its text, or typed rows in the Python API) as canonical text."""
        if isinstance(value, str):
            text = value.strip()
            if len(text) > self.grammar.max_len:
                raise ArchlibError(f"{self.name} is {len(text)} characters long; at most "
                                   f"{self.grammar.max_len} are allowed.")
            return self.grammar.canonical(text) if text else ""
        if isinstance(value, (list, tuple)) and value:
            return self.grammar.canonical(value)
        if value is None:
            raise self._bad(value, "None where the Python API takes a str (or a list of typed rows); leave it "
                                   "out to get the model's own table")
        got = type(value).__name__
        raise self._bad(value, f"{'an' if got[:1] in 'aeiou' else 'a'} {got} where the Python API takes a str "
                               "(or a list of typed rows)")

    def _in_range(self, shown: Any, num: int | float) -> int | float:
        if isinstance(num, float) and not math.isfinite(num):
            raise self._bad(shown, "not finite")
        if (self.lo is not None and num < self.lo) or (self.hi is not None and num > self.hi):
            raise self._bad(shown, "out of range")
        return num

    def _type_why(self, value: Any, example: Any) -> str:
        """Why a value of the wrong type is refused, naming the type expected."""
        want = {bool: "a bool", int: "an int", float: "a number (int or float)", str: "a str"}[type(example)]
        if value is None:
            return f"None where the Python API takes {want}; leave it out to get the default"
        got = type(value).__name__
        why = f"{'an' if got[:1] in 'aeiou' else 'a'} {got} where the Python API takes {want}"
        return why + ("; only URLs and the CLI parse text" if isinstance(value, str) else "")

    def _bad(self, value: Any, why: str = "") -> ArchlibError:
        shown = repr(value[:60]) if isinstance(value, str) else reprlib.repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        extra = f" ({why})" if why else ""
        return ArchlibError(
            f"{self.name}={shown} is not allowed{extra}: {self.name} must be {self.describe_range()}."
        )


def format_value(value: Any) -> str:
    """A knob value as text (URLs, CLI, results): the shortest exact form that `Knob.parse`
    reads back, with float noise (0.30000000000000004) snapped to 12 significant digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = float(f"{value:.12g}")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _same_type(value: Any, choice: Any) -> bool:
    """A typed value may name a choice of its own kind only: True is not the choice 1, nor "1"."""
    if isinstance(choice, bool) or isinstance(value, bool):
        return isinstance(choice, bool) and isinstance(value, bool)
    if isinstance(choice, str):
        return isinstance(value, str)
    return isinstance(value, numbers.Real)


def _same_number(text: str, choice: Any) -> bool:
    """"1" and "1.0" name the numeric choice 1.0 (URLs and formatters write either)."""
    if isinstance(choice, bool) or not isinstance(choice, (int, float)) or not _FLOAT_TEXT.fullmatch(text[:41]):
        return False
    try:
        return float(text) == choice
    except ValueError:
        return False


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_given(schema: Iterable[Knob], given: Mapping[str, Any], *, model: str = "",
                text: bool = False) -> dict[str, Any]:
    """The `given` values validated by `schema`, typed (only the names given; unknown names raise).

    Typed Python values by default (`Knob.parse`); `text=True` parses strings from a URL or
    a command line (`Knob.parse_text`). One rule for every entry point: text is parsed at the
    edge, and the Python API takes typed values only.
    """
    knobs = {k.name: k for k in schema}
    unknown = sorted((k for k in given if k not in knobs), key=str)
    if unknown:
        where = f" for {model}" if model else ""
        allowed = ", ".join(knobs) or "none"
        raise ArchlibError(f"unknown knob {reprlib.repr(unknown[0])}{where}; known knobs: {allowed}.")
    return {name: knobs[name].parse_text(v) if text else knobs[name].parse(v) for name, v in given.items()}


def resolve(schema: Iterable[Knob], given: Mapping[str, Any], *, model: str = "", text: bool = False) -> dict[str, Any]:
    """Defaults of `schema` overridden by the validated `given` values (see `parse_given`)."""
    schema = tuple(schema)
    return {k.name: k.default for k in schema} | parse_given(schema, given, model=model, text=text)


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
