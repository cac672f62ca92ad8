"""Fuzz of the Python API's text paths touched by the hostile-input pass: every model's knobs and
the measurement settings, given hostile values, either parse or raise ArchlibError naming the
knob (numbers as text are ASCII digits only)."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

import archlib
from archlib.core import registry
from archlib.errors import ArchlibError
from archlib.hardware import measure

HOSTILE = ["²", "١٢٨", "١.٥", "1e3", "224.0", "1_0", "0x10", "nan", "-inf", "", " ", "+5", "-0", "5e-1", ".5", "1.",
           "9" * 45, "true", "None", "<b>x</b>", "\x00", "\u202e12"]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12), st.integers(-10**6, 10**6).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.lists(st.integers(), max_size=2))
KNOBS = [(m, k) for m in archlib.list_models() for k in registry.get(m).knobs]
API_CALLS = 600


def _check(name: str, value, got) -> None:
    """What parsed is in range and, from text, was written with ASCII digits."""
    if isinstance(value, str) and isinstance(got, (int, float)) and not isinstance(got, bool):
        assert value.strip().isascii(), (name, value)


@settings(max_examples=API_CALLS, deadline=None)
@given(pair=st.sampled_from(KNOBS), value=VALUES)
def test_fuzz_knob_values_parse_or_name_the_knob(pair, value):
    model, knob = pair
    try:
        got = archlib.config(model, **{knob.name: value})[knob.name]
    except ArchlibError as e:
        named = f"{knob.name}=" in str(e) or f"{knob.name} row " in str(e)  # a stage table names row and field
        assert named and ("must be" in str(e) or "not a field" in str(e)), str(e)
        return
    _check(knob.name, value, got)
    if knob.kind in ("int", "float"):
        assert knob.lo <= got <= knob.hi and math.isfinite(got)


@settings(max_examples=API_CALLS // 2, deadline=None)
@given(name=st.sampled_from([k.name for k in measure.SETTINGS]), value=VALUES)
def test_fuzz_measurement_settings_parse_or_name_the_setting(name, value):
    try:
        got = measure.settings(**{name: value})[name]
    except ArchlibError as e:
        assert f"{name}=" in str(e)
        return
    _check(name, value, got)
