"""The `stages` knob in the app: the URL codec, Explore's editor (AppTest), Rebuild lines, and
custom tables on Compare, Scaling and Pareto."""
from __future__ import annotations

import json

import pytest
from app_support import MAIN, exact, run
from streamlit.testing.v1 import AppTest

import archlib
from app.explore import stages as editor
from app.ui import state
from archlib.core import registry
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, store

B0 = archlib.config("efficientnet_b0")["stages"]
CUSTOM = "t1k3s1c16n1-t6k3s2c24n2-t6k7s2c40n2-t6k3s2c80n3"  # B0's first rows, a 7x7 kernel in row 3


def text_of(elements) -> str:
    return "\n".join(e.value.replace("\\", "") for e in elements)


# -- the URL codec ---------------------------------------------------------------------------------
def test_a_custom_table_is_in_the_link_and_round_trips():
    view, messages = state.decode({"model": "efficientnet_b0", "stages": "k3t1s1n1c16-t6k3s2c24n2"})
    assert messages == [] and view.knobs["stages"] == "t1k3s1c16n1-t6k3s2c24n2"  # canonical field order
    assert state.encode(view) == {"model": "efficientnet_b0", "stages": "t1k3s1c16n1-t6k3s2c24n2"}
    assert state.decode(state.encode(view))[0] == view


def test_the_own_table_is_never_written_and_follows_the_other_knobs():
    view, _ = state.decode({"model": "regnet_y_400mf", "w0": "56"})
    assert view.knobs["stages"] == archlib.config("regnet_y_400mf", w0=56)["stages"]
    assert state.encode(view) == {"model": "regnet_y_400mf", "w0": "56"}
    seeded = state.seed(view)
    assert seeded[state.knob_key("regnet_y_400mf", "stages")] == ""  # the widget still follows w0
    view, _ = state.decode({"model": "efficientnet_b0", "stages": B0})
    assert state.encode(view) == {"model": "efficientnet_b0"}


def test_a_bad_table_in_a_link_is_named_and_the_own_table_used():
    view, messages = state.decode({"model": "efficientnet_b0", "stages": "t1k3s1c16n1-t6k4s2c24n2"})
    assert view.knobs["stages"] == B0
    assert len(messages) == 1 and "stages row 2, field k" in messages[0] and "[1, 11]" in messages[0]
    assert messages[0].endswith("Using the default, the model's own table.")
    view, messages = state.decode({"model": "efficientnet_b0", "resolution": "32",
                                   "stages": "-".join(["t1k3s2c16n1"] * 6)})
    assert "would halve a 1x1 feature map" in messages[0] and view.knobs == archlib.config("efficientnet_b0")


# -- the editor's edits as a table -----------------------------------------------------------------
def _records(model: str) -> list[dict]:
    a = archlib.analyze(model)
    tab = registry.get(model).family.stages
    rows = tab.rows(a.config)
    return editor.frame(tab, rows, rows, a, a).to_dict("records")


def test_editor_edits_become_the_table_text():
    tab = registry.get("efficientnet_b0").family.stages
    records = _records("efficientnet_b0")
    assert editor.edited_text(tab, records, {}) == B0
    delta = {"edited_rows": {2: {"k": 7}}, "deleted_rows": [6], "added_rows": []}
    assert tab.grammar.canonical(editor.edited_text(tab, records, delta)) == \
        "t1k3s1c16n1-t6k3s2c24n2-t6k7s2c40n2-t6k3s2c80n3-t6k5s1c112n3-t6k5s2c192n4"
    fused = editor.edited_text(tab, records, {"edited_rows": {1: {"f": True}}})
    assert tab.grammar.canonical(fused).split("-")[1] == "t6k3s2c24n2f1"  # fused rows take the family's SE: none
    added = editor.edited_text(tab, records, {"added_rows": [{"t": 6, "k": 3, "s": 1, "c": 320, "n": 1}]})
    assert added.endswith("-t6k3s1c320n1")
    missing = editor.edited_text(tab, records, {"added_rows": [{"t": 6, "k": 3, "s": 1}]})
    with pytest.raises(archlib.ArchlibError, match="stages row 8, field c: missing"):
        tab.grammar.canonical(missing)


def test_editor_rows_of_one_layer_tables_and_flags():
    tab = registry.get("mobilenet_v3_small").family.stages
    records = _records("mobilenet_v3_small")
    assert [r["stage"] for r in records[:4]] == ["s1.b1", "s2.b1", "s2.b2", "s3.b1"]
    assert records[0]["se"] is True and records[0]["hs"] is False
    text = editor.edited_text(tab, records, {"edited_rows": {0: {"hs": True}}})
    assert text.split("-")[0] == "k3e16c16se1hs1s2"


# -- Explore ----------------------------------------------------------------------------------------
def test_explore_opens_a_custom_table_link_with_the_editor_and_exact_totals():
    at = run(model="efficientnet_b0", stages=CUSTOM)
    exp = at.expander[0]
    assert exp.label.startswith("Stage table · 4 rows · custom")
    df = exp.dataframe[0].value
    assert list(df["k"]) == [3, 3, 7, 3] and list(df["c"]) == [16, 24, 40, 80]
    assert list(df["vs paper"]) == ["", "", "✎ changed", ""]
    own = archlib.analyze("efficientnet_b0").by_group("stage")
    mine = archlib.analyze("efficientnet_b0", stages=CUSTOM)
    assert exact(at, "MACs") == mine.totals()["macs"] and exact(at, "Parameters") == mine.totals()["params"]
    delta = dict(mine.by_group("stage"))["s3"]["macs"] - dict(own)["s3"]["macs"]
    assert df["Δ MACs"][2] == "+" + archlib.core.analysis.human(delta)
    assert at.query_params["stages"] == [CUSTOM] or at.query_params["stages"] == CUSTOM
    assert at.text_input(key=state.knob_key("efficientnet_b0", "stages")).value == CUSTOM


def test_explore_rebuild_lines_carry_the_table():
    at = run(model="efficientnet_b0", stages=CUSTOM, view="code")
    py, cli = (c.value for c in at.code if "archlib" in c.value)
    assert f"stages={CUSTOM!r}" in py and f"--stages {CUSTOM}" in cli
    a = run(model="efficientnet_b0", view="code")
    assert "stages" not in " ".join(c.value for c in a.code)


def test_explore_reset_returns_to_the_paper_s_table():
    at = run(model="efficientnet_b0", stages=CUSTOM)
    at.button(key="explore.stages.reset").click().run()
    assert at.session_state[state.knob_key("efficientnet_b0", "stages")] == ""
    assert exact(at, "MACs") == archlib.analyze("efficientnet_b0").totals()["macs"]
    assert "stages" not in at.query_params
    assert at.expander[0].label.endswith("the paper's")


def test_explore_bad_table_in_the_box_is_named_and_the_own_table_used():
    at = run(model="mobilenet_v3_large")
    at.text_input(key=state.knob_key("mobilenet_v3_large", "stages")).input("k3e16c16se0hs0s3").run()
    assert "stages row 1, field s" in text_of(at.error)
    assert exact(at, "MACs") == archlib.analyze("mobilenet_v3_large").totals()["macs"]


def test_explore_table_too_deep_for_a_new_resolution_falls_back_to_the_own_table():
    deep = "-".join(["t1k3s2c16n1"] * 5)
    at = run(model="efficientnet_b0", stages=deep, resolution="64")
    at.slider(key=state.knob_key("efficientnet_b0", "resolution")).set_value(32).run()
    assert "stages row 5, field s" in text_of(at.error) and "Using the model's own table" in text_of(at.error)
    assert exact(at, "MACs") == archlib.analyze("efficientnet_b0", resolution=32).totals()["macs"]


def test_explore_regnet_custom_table_says_it_overrides_the_width_rule():
    at = run(model="regnet_x_400mf", stages="d1w32g8b1-d2w64g8b1-d3w128g8b1", w0="56")
    assert "takes precedence over w0, wa, wm, blocks" in text_of(at.info)
    assert exact(at, "MACs") == archlib.analyze("regnet_x_400mf", stages="d1w32g8b1-d2w64g8b1-d3w128g8b1").totals()[
        "macs"]


# -- Compare, Scaling, Pareto -----------------------------------------------------------------------
def test_compare_takes_a_custom_table_in_a_slot():
    at = run("compare", model="efficientnet_b0", m2="efficientnet_b0", **{"m2.stages": CUSTOM})
    labels = " ".join(str(c) for c in at.dataframe[0].value["configuration"])
    assert "2: efficientnet_b0 (custom stages (4 rows))" in labels
    macs = list(at.dataframe[0].value["MACs"])
    assert macs == [archlib.analyze("efficientnet_b0").totals()["macs"],
                    archlib.analyze("efficientnet_b0", stages=CUSTOM).totals()["macs"]]


def test_scaling_applies_phi_to_your_own_base_network():
    at = run("scaling", phi="1", stages=CUSTOM)
    t = archlib.analyze("efficientnet_b0", stages=CUSTOM, phi=1).totals()
    m = {x.label: x for x in at.metric}
    assert m["MACs"].proto.help == f"{t['macs']:,}"
    t0 = archlib.analyze("efficientnet_b0", stages=CUSTOM).totals()
    assert m["Computed growth"].value == f"×{t['macs'] / t0['macs']:.3f}"
    assert at.query_params["stages"] in (CUSTOM, [CUSTOM])


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))
    return store.Store()


def test_pareto_places_a_custom_table_on_the_cost_and_measured_axes_without_accuracy(db):
    db.put(hostinfo.host_info(), "efficientnet_b0", {"stages": CUSTOM}, measure.settings(), "latency",
           {"median_ms": 3.25})
    db.put(hostinfo.host_info(), "efficientnet_b0", {}, measure.settings(), "latency", {"median_ms": 5.5})
    for axis, x in (("macs", archlib.analyze("efficientnet_b0", stages=CUSTOM).totals()["macs"] / 1e6),
                    ("measured", 3.25)):
        at = AppTest.from_file(MAIN, default_timeout=90)
        at.query_params.update({"model": "efficientnet_b0", "cfg": f"stages={CUSTOM}", "x": axis})
        at.switch_page("../pages/pareto.py").run()
        assert not at.exception
        md = " ".join(m.value for m in at.markdown)
        assert "custom configuration with **no published or measured accuracy**" in md
        fig = json.loads(at.get("plotly_chart")[0].proto.spec)
        lines = [s for s in fig["layout"]["shapes"] if s.get("type") == "line"]
        assert any(abs(s["x0"] - x) < 1e-9 * x for s in lines), (axis, lines)
        assert not any(t.get("name") == "your configuration (published)" for t in fig["data"])
