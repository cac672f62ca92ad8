"""The `stages` knob: round trips over the registry, random valid tables against the built module,
grammar fuzzing, and the errors a bad table gets (row, field and range named)."""
from __future__ import annotations

import json
import random
import re

import pytest
from checks import assert_agrees_with_torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archlib
from archlib.cli import main
from archlib.core import registry
from archlib.core.stages import MBRow
from archlib.errors import ArchlibError

TABLE_MODELS = [e.name for e in registry.entries() if e.family.stages is not None]
B0 = "t1k3s1c16n1-t6k3s2c24n2-t6k5s2c40n2-t6k3s2c80n3-t6k5s1c112n3-t6k5s2c192n4-t6k3s1c320n1"
Y400 = "d1w48g8b1-d3w104g8b1-d6w208g8b1-d6w440g8b1"
#: every grammar error names the row and the field: "stages row 3, field k: ..."
ROW_FIELD = re.compile(r"^stages row \d+, field (\S+|'.*'|\".*\"): ")


def table(name: str):
    return registry.get(name).family.stages


def stages_knob(name: str):
    """The model's `stages` knob, looked up by name (wherever it sits among the knobs)."""
    (knob,) = [k for k in registry.get(name).knobs if k.name == "stages"]
    return knob


def shuffled(text: str, seed: int) -> str:
    """The same table with each row's fields in another order (the grammar allows any order)."""
    rng = random.Random(seed)
    rows = []
    for row in text.split("-"):
        fields = re.findall(r"[a-z]+[\d.]+", row)
        rng.shuffle(fields)
        rows.append("".join(fields))
    return "-".join(rows)


def test_table_driven_families_are_the_issue_s():
    families = {registry.get(n).family.name for n in TABLE_MODELS}
    assert families == {"EfficientNet", "EfficientNetV2", "MobileNetV2", "MnasNet", "MobileNetV3", "RegNetX",
                        "RegNetY", "ShuffleNetV2"}


def test_published_strings():
    assert archlib.config("efficientnet_b0")["stages"] == B0
    assert archlib.config("efficientnet_b7")["stages"] == B0  # B7 is B0's table at width 2, depth 3.1
    assert archlib.config("regnet_y_400mf")["stages"] == Y400


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_default_string_round_trips_to_the_registered_model(name):
    """Its own table: parse(format(t)) == t, and the table in any field order builds the same IR."""
    entry, tab = registry.get(name), table(name)
    cfg = entry.config()
    own = tab.derive(cfg)
    text = cfg["stages"]
    assert stages_knob(name).default == ""
    assert tab.grammar.format(own) == text
    assert tab.grammar.parse(text) == own
    assert tab.grammar.format(tab.grammar.parse(text)) == text
    other = shuffled(text, seed=len(name))
    assert archlib.config(name, stages=other) == cfg  # canonical form
    assert tab.grammar.parse(other) == own
    ir = entry.family.lower(cfg)
    forced = entry.family.lower({**cfg, "stages": other})  # not the canonical text: goes through the parser
    assert repr((forced.input_shape, forced.ops)) == repr((ir.input_shape, ir.ops))
    assert archlib.analyze(name, stages=text).totals() == archlib.analyze(name).totals()


@pytest.mark.parametrize("name", ["efficientnet_b0", "mobilenet_v2", "regnet_y_400mf"])
def test_summary_json_always_has_stages_and_the_default_string_changes_nothing(name, capsys):
    assert main(["summary", name, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["config"]["stages"] == archlib.config(name)["stages"]
    assert main(["summary", name, "--json", "--stages", plain["config"]["stages"]]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == plain and again["notes"] == []


def test_typed_rows_are_accepted_by_the_api():
    rows = list(table("efficientnet_b0").derive({}))
    rows[5] = MBRow(6, 7, 2, 192, 4, 0.25)
    a = archlib.analyze("efficientnet_b0", stages=rows)
    assert a.config["stages"] == B0.replace("t6k5s2c192n4", "t6k7s2c192n4")
    assert a.totals()["macs"] > archlib.analyze("efficientnet_b0").totals()["macs"]


def test_phi_width_and_depth_scale_a_custom_table_as_they_scale_table_1():
    custom = "t1k3s1c24n1-t4k5s2c32n2-t6k3s2c64n2-t6k5s2c128n3se0.5-t6k3s1c256n1f1"
    via_phi = archlib.analyze("efficientnet_b0", stages=custom, phi=1)
    direct = archlib.analyze("efficientnet_b0", stages=custom, width=1.1, depth=1.2, resolution=258)
    assert via_phi.ir.ops == direct.ir.ops
    b3 = archlib.analyze("efficientnet_b3", stages=custom)
    assert b3.ir.ops == archlib.analyze("efficientnet_b0", stages=custom, width=1.2, depth=1.4, resolution=300,
                                           dropout=0.3).ir.ops


def test_regnet_stages_take_precedence_and_say_so():
    custom = "d1w64g16b1-d2w128g16b1-d4w256g16b1"
    a = archlib.analyze("regnet_y_400mf", stages=custom, w0=88)
    assert a.ir.ops == archlib.analyze("regnet_y_400mf", stages=custom).ir.ops
    assert a.notes and "takes precedence over w0, wa, wm, blocks" in a.notes[0]
    assert archlib.analyze("regnet_y_400mf", w0=88).notes == ()
    assert registry.get("regnet_y_400mf").overrides(a.config) == {"w0": 88, "stages": custom}


def test_other_knobs_still_derive_the_table_when_none_is_given():
    assert archlib.config("efficientnet_v2_s", variant="m")["stages"] == archlib.config("efficientnet_v2_m")["stages"]
    assert archlib.config("mobilenet_v2", expansion=4)["stages"].startswith("t1k3s1c16n1-t4k3s2c24n2")
    assert archlib.config("shufflenet_v2_x1_0", width=2.0)["stages"] == "n4c244-n8c488-n4c976"
    entry = registry.get("regnet_y_400mf")
    cfg = entry.config(w0=56)
    assert cfg["stages"] != Y400 and entry.overrides(cfg) == {"w0": 56}


@pytest.mark.parametrize("name,text,needle", [
    ("efficientnet_b0", "t1k3s1c16n1-t6k4s2c24n2", "stages row 2, field k: k4 is not allowed; k (kernel) must be "
                                                   "an odd integer in [1, 11]"),
    ("efficientnet_b0", "t1k3s3c16n1", "stages row 1, field s: s3 is not allowed; s (stride of the first layer) "
                                       "must be 1 or 2"),
    ("efficientnet_b0", "t1k3s1c5000n1", "field c: c5000 is not allowed; c (output channels) must be an integer "
                                         "in [1, 4096]"),
    ("efficientnet_b0", "t1k3s1c16n33", "field n: n33 is not allowed; n (layers) must be an integer in [1, 32]"),
    ("efficientnet_b0", "t13k3s1c16n1", "field t: t13 is not allowed; t (expansion ratio) must be an integer in "
                                        "[1, 12]"),
    ("efficientnet_b0", "t1k3s1c16n1-t6k3s2c24", "stages row 2, field n: missing"),
    ("efficientnet_b0", "t1k3s1c16n1k5", "stages row 1, field k: given twice"),
    ("efficientnet_b0", "t1k3s1c16n1x2", "stages row 1, field x: unknown key 'x'; the keys are t, k, s, c, n, se, f"),
    ("mobilenet_v2", "t1k3s1c16n1f1", "stages row 1, field f: unknown key 'f'"),
    ("efficientnet_b0", "t1k3s1c16n1-", "stages row 2, field t: missing"),
    ("efficientnet_b0", "t1k3s1c16n1-T6k3s2c24n2", "stages row 2, field 'T6': not a field (keys are "
                                                   "lower-case)"),
    ("efficientnet_b0", "t1k3s1c16n1se1.5", "field se: se1.5 is not allowed"),
    ("efficientnet_b0", "t1.5k3s1c16n1", "field t: t1.5 is not allowed (not an integer)"),
    ("efficientnet_b0", "-".join(["t1k3s1c16n1"] * 17), "stages row 17: a table has 1 to 16 rows"),
    ("efficientnet_b0", "t1k3s1c16n1" * 100, "at most 1000 are allowed"),
    ("mobilenet_v3_large", "k3e16c16se0hs0", "stages row 1, field s: missing"),
    ("mobilenet_v3_large", "k3e16c16se2hs0s1", "field se: se2 is not allowed; se (1: squeeze-and-excite) must be "
                                               "0 or 1"),
    ("regnet_y_400mf", "d1w48g8b1-d3w100g8b1", "stages row 2, field w: w100 is not allowed; w must be divisible "
                                               "by g x b = 8 x 1"),
    ("regnet_y_400mf", "d1w48g8b1-d3w96g8b2-d1w96g8b0.1", "field b: b0.1 is not allowed"),
    ("shufflenet_v2_x1_0", "n4c117", "field c: c117 is not allowed; c (output channels) must be an even integer"),
])
def test_bad_tables_name_row_field_and_range(name, text, needle):
    with pytest.raises(ArchlibError) as e:
        archlib.analyze(name, stages=text)
    assert needle in str(e.value)


@pytest.mark.parametrize("name,text,resolution,needle", [
    ("efficientnet_b0", "t1k3s2c16n1-t1k3s2c16n1-t1k3s2c16n1-t1k3s2c16n1-t1k3s2c16n1", 32,
     "stages row 5, field s: s2 would halve a 1x1 feature map at resolution=32"),
    ("mobilenet_v3_small", "-".join(["k3e16c16se0hs0s2"] * 6), 64, "stages row 6, field s: s2"),
    ("regnet_y_400mf", "-".join(["d1w48g8b1"] * 5), 32, "stages row 5: this row's first block (stride 2)"),
    ("shufflenet_v2_x1_0", "n1c24-n1c24-n1c24-n1c24", 32, "stages row 4: "),
])
def test_a_resolution_too_small_for_the_strides_is_refused(name, text, resolution, needle):
    with pytest.raises(ArchlibError) as e:
        archlib.analyze(name, stages=text, resolution=resolution)
    assert needle in str(e.value) and "resolution of at least" in str(e.value)
    archlib.analyze(name, stages=text, resolution=2 * resolution)  # one more halving fits


def test_cli_takes_stages_and_refuses_a_bad_one(capsys):
    assert main(["summary", "mobilenet_v2", "--stages", "t1k3s1c16n1-t6k5s2c24n2se0.25", "--level", "stage"]) == 0
    assert "s2" in capsys.readouterr().out
    assert main(["summary", "mobilenet_v2", "--stages=t1k3s1c16n1-t6k4s2c24n2"]) == 2
    assert "stages row 2, field k" in capsys.readouterr().err
    assert main(["graph", "regnet_x_400mf", "--stages", "d1w32g8b1-d2w64g8b1", "--level", "stage"]) == 0
    assert "digraph" in capsys.readouterr().out


# -- grammar fuzzing ------------------------------------------------------------------------------
FUZZ = st.text(alphabet="tksncefwdgbhx-.0123456789 TK_=!;", max_size=60)


@settings(max_examples=300, deadline=None)
@given(FUZZ, st.sampled_from(["efficientnet_b0", "mobilenet_v3_large", "regnet_y_400mf", "shufflenet_v2_x1_0",
                              "mnasnet_a1"]))
def test_random_strings_are_a_table_or_an_error_naming_row_and_field(text, name):
    knob = stages_knob(name)
    try:
        canon = knob.parse(text)
    except ArchlibError as e:
        assert ROW_FIELD.match(str(e)) or str(e).startswith("stages row 17: a table has"), str(e)
        return
    assert canon == "" or knob.parse(canon) == canon  # canonical text is a fixed point


# -- random valid tables against the built module -------------------------------------------------
def _text(fields: dict, rng: random.Random) -> str:
    items = list(fields.items())
    rng.shuffle(items)
    return "".join(f"{k}{v}" for k, v in items)


@st.composite
def mbconv_tables(draw, fused: bool):
    rng = random.Random(draw(st.integers(0, 1000)))
    rows, strided = [], 0
    for _ in range(draw(st.integers(1, 4))):
        s = draw(st.sampled_from([1, 2])) if strided < 3 else 1
        strided += s == 2
        row = {"t": draw(st.integers(1, 6)), "k": draw(st.sampled_from([1, 3, 5, 7])), "s": s,
               "c": draw(st.integers(1, 40)), "n": draw(st.integers(1, 2))}
        se = draw(st.sampled_from([None, 0, 0.25, 0.1, 0.5, 1]))
        if se is not None:
            row["se"] = se
        if fused and draw(st.booleans()):
            row["f"] = 1
        rows.append(_text(row, rng))
    return "-".join(rows)


@st.composite
def v3_tables(draw):
    rng = random.Random(draw(st.integers(0, 1000)))
    rows, strided = [], 0
    for _ in range(draw(st.integers(1, 5))):
        s = draw(st.sampled_from([1, 2])) if strided < 3 else 1
        strided += s == 2
        rows.append(_text({"k": draw(st.sampled_from([3, 5, 7])), "e": draw(st.integers(1, 72)),
                           "c": draw(st.integers(1, 40)), "se": draw(st.integers(0, 1)),
                           "hs": draw(st.integers(0, 1)), "s": s}, rng))
    return "-".join(rows)


@st.composite
def regnet_tables(draw):
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        g, b = draw(st.sampled_from([1, 2, 4, 8])), draw(st.sampled_from([0.5, 1, 2]))
        w_b = g * draw(st.integers(1, 6)) * (2 if b == 0.5 else 1)
        rows.append(f"d{draw(st.integers(1, 2))}w{int(w_b * b)}g{g}b{b:g}")
    return "-".join(rows)


@st.composite
def shufflenet_tables(draw):
    return "-".join(f"n{draw(st.integers(1, 2))}c{2 * draw(st.integers(1, 32))}" for _ in range(draw(st.integers(1, 3))))


RANDOM = {
    "efficientnet_b0": (mbconv_tables(True), {"phi": st.sampled_from([0, 0.5]), "width": st.sampled_from([0.5, 1])}),
    "efficientnet_v2_s": (mbconv_tables(True), {"depth": st.sampled_from([0.5, 1])}),
    "mobilenet_v2": (mbconv_tables(False), {"width": st.sampled_from([0.35, 1])}),
    "mnasnet_a1": (mbconv_tables(False), {"width": st.sampled_from([0.5, 1])}),
    "mobilenet_v3_large": (v3_tables(), {"scaling": st.sampled_from(["torchvision", "tf"]),
                                         "width": st.sampled_from([0.5, 1])}),
    "regnet_y_400mf": (regnet_tables(), {"se_ratio": st.sampled_from([0, 0.25])}),
    "shufflenet_v2_x1_0": (shufflenet_tables(), {"width": st.sampled_from([1.0, 2.0])}),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_valid_tables_agree_with_the_built_module(name):
    """Random tables (fields in random order) at 64 px: params == numel, MACs == FlopCounterMode / 2
    per module (meta device), and the canonical text parses back to itself."""
    tables, knobs = RANDOM[name]
    grammar = table(name).grammar

    @settings(max_examples=12, deadline=None)
    @given(tables, st.fixed_dictionaries(knobs))
    def check(text, extra):
        a = archlib.analyze(name, stages=text, resolution=64, **extra)
        canon = a.config["stages"]
        assert grammar.parse(canon) == grammar.parse(text)
        assert grammar.format(grammar.parse(canon)) == canon
        assert_agrees_with_torch(a)

    check()
