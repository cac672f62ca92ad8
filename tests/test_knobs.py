"""Knob parsing over the whole registry: typed values in range pass; anything else raises
ArchlibError naming the value, its allowed range and, for a value of the wrong type, the
type expected. The Python API takes typed values; only URLs and the CLI parse text."""
from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archlib
from archlib.core import registry
from archlib.core.knobs import Knob, format_value
from archlib.errors import ArchlibError

ALL_KNOBS = [(e.name, k) for e in registry.entries() for k in e.knobs]
IDS = [f"{m}-{k.name}" for m, k in ALL_KNOBS]
SAMPLE = (Knob("w", "float", 1.0, "h", lo=0.1, hi=2.0), Knob("n", "int", 3, "h", lo=1, hi=8),
          Knob("c", "choice", "a", "h", choices=("a", "b")), Knob("f", "choice", 1.0, "h", choices=(0.5, 1.0)),
          Knob("b", "bool", False, "h"))


@pytest.mark.parametrize("model,knob", ALL_KNOBS, ids=IDS)
def test_default_is_valid_and_roundtrips_as_text(model, knob):
    assert knob.parse(knob.default) == knob.default
    assert knob.parse_text(format_value(knob.default)) == knob.default
    assert knob.help and knob.describe_range()


def _out_of_range(knob: Knob) -> list:
    """Values of the right type the schema refuses."""
    if knob.kind == "choice":
        return ["bogus" if not isinstance(knob.choices[0], str) else "bogus-choice"] + (
            [] if isinstance(knob.choices[0], str) else [max(knob.choices) + 1])
    if knob.kind in ("bool", "text"):  # stage tables' bad values: tests/test_stages.py (row and field named)
        return []
    step = knob.step or 1
    lo, hi = knob.lo - step, knob.hi + step
    return [int(lo), int(hi)] if knob.kind == "int" else [lo, hi, math.nan, math.inf]


def _wrong_type(knob: Knob) -> list:
    """Values of another type: text, None, a list, a dict, a bool (for numbers and choices)."""
    out = [None, [1], {"a": 1}]
    if knob.kind == "text":
        return [None, {"a": 1}, True, 3]
    if not isinstance(knob.default, str):
        out.append("true" if knob.kind == "bool" else format_value(knob.default))
    if knob.kind != "bool":
        out.append(True)
    if knob.kind == "int":
        out.append(float(knob.default))
    return out


@pytest.mark.parametrize("model,knob", ALL_KNOBS, ids=IDS)
def test_every_knob_refuses_bad_values_naming_value_range_and_type(model, knob):
    """The registry-wide form of every family's bad-knob test, through the public API."""
    for bad in _out_of_range(knob):
        with pytest.raises(ArchlibError) as e:
            archlib.analyze(model, **{knob.name: bad})
        msg = str(e.value)
        assert msg.startswith(f"{knob.name}=") and knob.describe_range() in msg, msg
    for bad in _wrong_type(knob):
        with pytest.raises(ArchlibError) as e:
            archlib.analyze(model, **{knob.name: bad})
        msg = str(e.value)
        assert f"{knob.name}=" in msg and knob.describe_range() in msg, msg
        assert "where the Python API takes" in msg, msg


# Constraints between knobs, or inside one family's rule: the message names every value involved.
COMBINATIONS = [
    ("efficientnet_b0", {"phi": 8, "beta": 2.0}, ["phi=8", "beta=2", "effective width", "at most 8"]),
    ("efficientnet_b0", {"phi": 8, "gamma": 1.5}, ["gamma=1.5", "effective resolution", "at most 2048"]),
    ("vit_b_16", {"embed_dim": 100, "heads": 3}, ["embed_dim=100", "heads=3"]),
    ("vit_b_16", {"resolution": 16, "patch": 32}, ["resolution=16", "patch=32"]),
    ("regnetx_002", {"w0": 30}, ["w0=30", "multiple of 8", "[8, 512]"]),
    ("googlenet", {"width": 2}, ["unknown knob 'width'", "known knobs: resolution"]),
]


@pytest.mark.parametrize("model,knobs,words", COMBINATIONS, ids=[f"{m}-{'-'.join(k)}" for m, k, _ in COMBINATIONS])
def test_impossible_combinations_name_every_value(model, knobs, words):
    with pytest.raises(ArchlibError) as e:
        archlib.analyze(model, **knobs)
    assert all(w in str(e.value) for w in words), str(e.value)


@given(st.one_of(st.text(max_size=50), st.floats(allow_nan=True, allow_infinity=True), st.integers(),
                 st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_random_typed_values_parse_or_raise_clearly(value):
    for knob in SAMPLE:
        try:
            out = knob.parse(value)
        except ArchlibError as e:
            assert str(e).startswith(f"{knob.name}=") and "must be" in str(e)
        else:
            assert not isinstance(value, str) or knob.kind == "choice"  # text is parsed by parse_text only
            if knob.kind in ("int", "float"):
                assert knob.lo <= out <= knob.hi and not isinstance(out, bool)
            if knob.kind == "bool":
                assert isinstance(out, bool)


@given(st.text(max_size=60))
def test_random_text_parses_or_raises_clearly(text):
    for knob in SAMPLE:
        try:
            out = knob.parse_text(text)
        except ArchlibError as e:
            assert str(e).startswith(f"{knob.name}=") and "must be" in str(e)
        else:
            assert knob.parse(out) == out  # what text gives is a valid typed value


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e400", "0x10", "__import__('os')", "1;2", "", " ", "2.5"])
def test_hostile_strings_are_rejected(bad):
    with pytest.raises(ArchlibError, match="n="):
        Knob("n", "int", 3, "h", lo=1, hi=8).parse_text(bad)


def test_python_api_takes_typed_values_only():
    """None is not the default, 'yes' is not True, '224' is not 224: each names the type expected."""
    cases = [("vit_b_16", "redraw", "yes", "a str where the Python API takes a bool"),
             ("vit_b_16", "redraw", 1, "an int where the Python API takes a bool"),
             ("mobilenet_v2", "resolution", "224", "a str where the Python API takes an int"),
             ("mobilenet_v2", "resolution", None, "None where the Python API takes an int"),
             ("mobilenet_v2", "resolution", 224.0, "a float where the Python API takes an int"),
             ("mobilenet_v2", "width", "0.5", "a str where the Python API takes a number"),
             ("resnet50", "layers", "50", "a str where the Python API takes an int"),
             ("resnet50", "layers", True, "a bool where the Python API takes an int")]
    for model, name, value, why in cases:
        with pytest.raises(ArchlibError, match=re.escape(why)):
            archlib.analyze(model, **{name: value})
    assert archlib.config("vit_b_16", redraw=True)["redraw"] is True
    assert archlib.config("mobilenet_v2", width=1)["width"] == 1.0  # an int is a number
    assert archlib.config("resnet50", layers=50)["layers"] == 50


def test_text_is_parsed_by_the_schema_at_the_edges():
    """What the URL and the CLI read: the model's parse_text gives the typed configuration."""
    entry = archlib.get_model("vit_b_16")
    assert entry.parse_text({"redraw": "yes", "resolution": "224", "mlp_ratio": "2"}) == \
        {"redraw": True, "resolution": 224, "mlp_ratio": 2.0}
    with pytest.raises(ArchlibError, match=r"redraw='maybe' is not allowed: redraw must be true or false"):
        entry.parse_text({"redraw": "maybe"})


def test_unknown_knob_lists_known_ones():
    with pytest.raises(ArchlibError, match="known knobs: width"):
        archlib.analyze("mobilenet_v2", depth_of_field=3)


RESOLUTIONS = [(e.name, k) for e in registry.entries() for k in e.knobs if k.name == "resolution"]


@pytest.mark.parametrize("model,knob", RESOLUTIONS, ids=[m for m, _ in RESOLUTIONS])
def test_too_small_resolution_is_a_clear_error(model, knob):
    """One pixel below the smallest side a model takes names the value and the range; the smallest works."""
    lo = int(knob.lo)
    with pytest.raises(ArchlibError, match=rf"^resolution={lo - 1} is not allowed .*\[{lo}, {int(knob.hi)}\]"):
        archlib.analyze(model, resolution=lo - 1)
    assert archlib.analyze(model, resolution=lo).input_shape[-1] == lo


@pytest.mark.parametrize("model,knob", ALL_KNOBS, ids=IDS)
def test_every_value_written_as_text_reads_back(model, knob):
    """What URLs, the CLI line and the results CSV write (format_value) parses to the same value."""
    values = list(knob.choices) if knob.kind == "choice" else [knob.default]
    if knob.kind in ("int", "float"):
        values += [knob.lo, knob.hi]
    for v in values:
        assert knob.parse_text(format_value(v)) == v


def test_numeric_choices_accept_either_spelling():
    width = {k.name: k for k in archlib.get_model("shufflenet_v2_x1_0").knobs}["width"]
    assert width.parse_text("1") == width.parse_text("1.0") == width.parse(1) == 1.0
    assert width.parse_text("2") == 2.0
    with pytest.raises(ArchlibError, match="width='3'"):
        width.parse_text("3")
    with pytest.raises(ArchlibError, match="width=True"):
        width.parse(True)


def test_huge_numbers_are_out_of_range_not_a_crash():
    with pytest.raises(ArchlibError, match="out of range"):
        archlib.analyze("mobilenet_v2", width=10 ** 400)
    with pytest.raises(ArchlibError, match="out of range"):
        archlib.analyze("mobilenet_v2", resolution=10 ** 400)


def test_model_name_is_positional_so_a_knob_called_name_is_just_unknown():
    with pytest.raises(ArchlibError, match="unknown knob 'name'"):
        archlib.analyze("mobilenet_v2", name="x")
