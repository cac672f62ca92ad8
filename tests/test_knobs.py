"""Knob parsing: typed values in range pass; anything else raises ArchlibError naming it."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archlib
from archlib.core import registry
from archlib.core.knobs import Knob
from archlib.errors import ArchlibError

ALL_KNOBS = [(e.name, k) for e in registry.entries() for k in e.knobs]


@pytest.mark.parametrize("model,knob", ALL_KNOBS, ids=[f"{m}-{k.name}" for m, k in ALL_KNOBS])
def test_default_is_valid_and_roundtrips_as_string(model, knob):
    assert knob.parse(knob.default) == knob.default
    assert knob.parse(str(knob.default)) == knob.default
    assert knob.help and knob.describe_range()


@given(st.one_of(st.text(max_size=50), st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                 st.booleans(), st.none(), st.lists(st.integers(), max_size=3)))
def test_random_values_parse_or_raise_clearly(value):
    for knob in (Knob("w", "float", 1.0, "h", lo=0.1, hi=2.0), Knob("n", "int", 3, "h", lo=1, hi=8),
                 Knob("c", "choice", "a", "h", choices=("a", "b")), Knob("b", "bool", False, "h")):
        try:
            out = knob.parse(value)
        except ArchlibError as e:
            assert knob.name in str(e) and "must be" in str(e)
        else:
            if knob.kind in ("int", "float"):
                assert knob.lo <= out <= knob.hi


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e400", "0x10", "__import__('os')", "1;2", "", " ", "2.5"])
def test_hostile_strings_are_rejected(bad):
    with pytest.raises(ArchlibError, match="n="):
        Knob("n", "int", 3, "h", lo=1, hi=8).parse(bad)


def test_unknown_knob_lists_known_ones():
    with pytest.raises(ArchlibError, match="known knobs: width"):
        archlib.analyze("mobilenet_v2", depth_of_field=3)


def test_too_small_resolution_is_a_clear_error():
    with pytest.raises(ArchlibError):
        archlib.analyze("lenet", num_classes=0)


@pytest.mark.parametrize("model,knob", ALL_KNOBS, ids=[f"{m}-{k.name}" for m, k in ALL_KNOBS])
def test_every_value_written_as_text_reads_back(model, knob):
    """What URLs, the CLI line and the results CSV write (format_value) parses to the same value."""
    from archlib.core.knobs import format_value

    values = list(knob.choices) if knob.kind == "choice" else [knob.default]
    if knob.kind in ("int", "float"):
        values += [knob.lo, knob.hi]
    for v in values:
        assert knob.parse(format_value(v)) == v


def test_numeric_choices_accept_either_spelling():
    width = {k.name: k for k in archlib.get_model("shufflenet_v2_x1_0").knobs}["width"]
    assert width.parse("1") == width.parse("1.0") == 1.0
    assert width.parse("2") == 2.0
    with pytest.raises(ArchlibError, match="width='3'"):
        width.parse("3")


def test_huge_numbers_are_out_of_range_not_a_crash():
    with pytest.raises(ArchlibError, match="out of range"):
        archlib.analyze("mobilenet_v2", width=10 ** 400)


def test_model_name_is_positional_so_a_knob_called_name_is_just_unknown():
    with pytest.raises(ArchlibError, match="unknown knob 'name'"):
        archlib.analyze("mobilenet_v2", name="x")
