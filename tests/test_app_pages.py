"""Every page of the Streamlit app under AppTest: defaults, links, knob changes, bad links.

The numbers on the page must be exactly archlib's: metrics show human units and carry the
exact count first in their help text, which is what these tests read.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from app_support import MAIN, exact, run, warnings  # noqa: F401  (MAIN: test_app_upload imports it from here)
from streamlit.testing.v1 import AppTest

import archlib
from app.ui import schema, state

ROOT = Path(__file__).resolve().parent.parent


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def assert_totals(at: AppTest, model: str, **knobs) -> None:
    t = archlib.analyze(model, **knobs).totals()
    assert exact(at, "Parameters") == t["params"]
    assert exact(at, "MACs") == t["macs"]
    assert exact(at, "FLOPs") == t["flops"]
    assert exact(at, "Activations") == t["activations"]
    assert exact(at, "Elementwise") == t["elementwise"]


# -- every page, default ---------------------------------------------------------
@pytest.mark.parametrize("page", ["explore", "scaling", "compare", "concepts"])
def test_page_renders_by_default_without_messages(page):
    at = run(page)
    assert not at.error and not at.warning
    assert at.query_params["model"] == [state.default_model()] or at.query_params["model"] == state.default_model()


# -- Explore -------------------------------------------------------------------------
def test_explore_link_sets_the_state():
    at = run(model="mobilenet_v2", width="0.5", resolution="160", batch="8", dtype="float16", optimizer="sgd")
    assert at.selectbox(key=state.MODEL).value == "mobilenet_v2"
    assert at.slider(key=state.knob_key("mobilenet_v2", "width")).value == 0.5
    assert_totals(at, "mobilenet_v2", width=0.5, resolution=160)
    mem = archlib.analyze("mobilenet_v2", width=0.5, resolution=160).memory(batch=8, dtype="float16", optimizer="sgd")
    assert exact(at, "Weights") == mem["weights"]
    assert exact(at, "Inference") == mem["inference_total"]
    assert exact(at, "Training step") == mem["training_total"]


def test_explore_knob_change_changes_totals_exactly_and_the_url():
    at = run(model="mobilenet_v2")
    assert_totals(at, "mobilenet_v2")
    at.slider(key=state.knob_key("mobilenet_v2", "width")).set_value(0.75).run()
    assert_totals(at, "mobilenet_v2", width=0.75)
    at.slider(key=state.knob_key("mobilenet_v2", "resolution")).set_value(192).run()
    assert_totals(at, "mobilenet_v2", width=0.75, resolution=192)
    assert _q(at) == {"model": "mobilenet_v2", "width": "0.75", "resolution": "192"}


def _q(at: AppTest) -> dict[str, str]:
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def test_explore_model_switch_drops_the_old_knobs():
    at = run(model="mobilenet_v2", width="0.5")
    at.selectbox(key=state.MODEL).set_value("lenet").run()
    assert_totals(at, "lenet")
    assert _q(at) == {"model": "lenet"}
    labels = {s.label for s in at.sidebar.slider} | {n.label for n in at.sidebar.number_input}
    assert labels == {k.name for k in archlib.get_model("lenet").knobs}


def test_explore_bad_link_warns_and_uses_defaults():
    at = run(model="mobilenet_v2", width="9", level="x", bogus="1")
    text = warnings(at)
    assert "width='9' is not allowed" in text and "[0.1, 3]" in text
    assert "level='x' is not allowed" in text and "stage, block, unit, op" in text
    assert "Unknown parameter bogus" in text
    assert_totals(at, "mobilenet_v2")
    assert _q(at) == {"model": "mobilenet_v2"}


def test_explore_unknown_model_warns_and_uses_the_default_model():
    at = run(model="resnet9000")
    assert "model='resnet9000' is not a known model" in warnings(at)
    assert at.selectbox(key=state.MODEL).value == state.default_model()


def test_explore_hostile_link_is_inert():
    """Every hostile value is named in a warning, and each warning arrives with its markup escaped."""
    at = run(model="[x](javascript:alert(1))", level="<script>alert(1)</script>", **{"<b>k</b>": "1"})
    shown = [w.value for w in at.warning]
    assert len(shown) == 3, shown  # the model, the level and the unknown key: none passes silently
    for w in shown:
        assert "](javascript" not in w and "<script>" not in w and "<b>" not in w, w
    assert any(r"\[x\]\(javascript" in w for w in shown) and any(r"\<script\>" in w for w in shown)
    assert_totals(at, state.default_model())


def test_a_link_over_the_query_cap_renders_the_defaults_with_one_message():
    at = run(model="mobilenet_v2", width="0.5", q="x" * state.MAX_QUERY_CHARS)
    assert len(at.warning) == 1 and f"at most {state.MAX_QUERY_CHARS:,} are read" in warnings(at)
    assert_totals(at, state.default_model())
    assert _q(at) == {"model": state.default_model()}


def test_explore_layers_tab_lists_every_op():
    at = run(model="lenet", view="layers", q="conv")
    df = at.dataframe[0].value
    assert list(df["name"]) == ["conv1", "conv2"]
    assert _q(at) == {"model": "lenet", "view": "layers", "q": "conv"}


def test_explore_rebuild_tab_has_the_exact_configuration():
    at = run(model="mobilenet_v2", width="0.5", view="code")
    py, cli = (c.value for c in at.code[:2])
    assert "archlib.build('mobilenet_v2', width=0.5)" in py
    assert cli.splitlines()[0] == "python -m archlib summary mobilenet_v2 --width 0.5"


def test_explore_graph_and_breakdown_tabs_render():
    at = run(model="lenet", level="op", color="params")
    data = json.loads(at.get("bidi_component")[0].proto.json)  # the live graph: the SVG laid out server-side
    svg = data["svg"]
    assert svg.startswith("<svg") and all(f">{r.name}<" in svg for r in archlib.analyze("lenet").rows)
    assert 'data-color-by="params"' in svg
    at = run(model="lenet", view="breakdown", metric="params")
    charts = [e for e in at.get("plotly_chart")]
    assert len(charts) == 2


def test_crosscheck_agrees_with_flopcounter_and_fvcore():
    at = run(model="lenet", view="crosscheck")
    at.button(key="run_crosscheck").click().run()
    assert not at.exception
    texts = [s.value for s in at.success]
    assert any("FlopCounterMode agrees" in t for t in texts)
    assert any("fvcore agrees" in t for t in texts)
    rows = at.dataframe[0].value  # the library's CrossCheck, rendered: the whole model first, then modules
    assert list(rows["module"]) == ["(whole model)", "conv1", "conv2", "fc1", "fc2", "fc3"]
    assert rows["archlib MACs"].iloc[0] == rows["FlopCounterMode MACs"].iloc[0] == archlib.analyze("lenet").totals()["macs"]


# -- Scaling -------------------------------------------------------------------------
def _ratio(model: str, **knobs) -> float:
    return archlib.analyze(model, **knobs).totals()["macs"] / archlib.analyze(model).totals()["macs"]


def test_scaling_effnet_link_and_phi_change():
    at = run("scaling", phi="1")
    assert metrics(at)["Computed growth"] == f"×{_ratio('efficientnet_b0', phi=1.0):.3f}"
    assert metrics(at)["Predicted growth"] == f"×{(1.2 * 1.1 ** 2 * 1.15 ** 2):.3f}"
    at.slider(key=state.param_key(state.SCALING, "phi")).set_value(2.0).run()
    assert metrics(at)["Computed growth"] == f"×{_ratio('efficientnet_b0', phi=2.0):.3f}"
    assert exact(at, "MACs") == archlib.analyze("efficientnet_b0", phi=2.0).totals()["macs"]
    assert _q(at)["phi"] == "2"


def test_scaling_inverse_solver_finds_the_largest_phi():
    at = run("scaling", budget="1G")
    text = next(m.value for m in at.markdown if m.value.startswith("**φ = "))
    phi = float(re.match(r"\*\*φ = ([\d.]+)\*\*", text).group(1))
    assert archlib.analyze("efficientnet_b0", phi=phi).totals()["macs"] <= 1e9
    assert archlib.analyze("efficientnet_b0", phi=round(phi + 0.01, 2)).totals()["macs"] > 1e9


def test_scaling_mobilenet_lab():
    model = schema.MOBILENET_MODEL
    at = run("scaling", lab="mobilenet", mn_alpha="0.5", mn_rho="0.75")
    assert metrics(at)["Computed cost"] == f"×{_ratio(model, width=0.5, resolution=168):.3f}"
    assert metrics(at)["Predicted cost"] == f"×{0.5 ** 2 * 0.75 ** 2:.3f}"


def test_scaling_latency_budget_measures_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "results.sqlite"))  # measurements go to a scratch store
    at = run("scaling", lab="mobilenet", mn_rho="0.5", budget_metric="latency", budget="500ms")
    assert not [m for m in at.markdown if "runs in" in m.value]  # nothing is timed before the click
    at.button(key="solve_latency_α").click().run()
    assert not at.exception
    text = next(m.value for m in at.markdown if "runs in" in m.value)
    assert re.match(r"\*\*α = [\d.]+\*\* runs in [\d.]+ ms ≤ 500 ms here", text)


def test_scaling_bad_link_warns_and_uses_defaults():
    at = run("scaling", phi="99", lab="quantum")
    text = warnings(at)
    assert "phi='99' is not allowed" in text and "[0, 8]" in text
    assert "lab='quantum' is not allowed" in text
    assert _q(at) == {"model": state.default_model()}


# -- Compare -------------------------------------------------------------------------
def test_compare_link_sets_every_configuration():
    at = run("compare", model="lenet", n="3", m2="mobilenet_v2", **{"m2.width": "0.5"}, m3="mobilenet_v1")
    got = [int(m.proto.help.replace(",", "")) for m in at.metric if m.label == "MACs"]
    want = [archlib.analyze(m, **k).totals()["macs"] for m, k in
            (("lenet", {}), ("mobilenet_v2", {"width": 0.5}), ("mobilenet_v1", {}))]
    assert got == want
    assert _q(at) == {"model": "lenet", "n": "3", "m2": "mobilenet_v2", "m2.width": "0.5", "m3": "mobilenet_v1"}


def test_compare_knob_change_and_bad_slot():
    at = run("compare", model="lenet", m2="zzz")
    assert "m2='zzz' is not a known model" in warnings(at)
    slot2 = at.selectbox(key=state.model_key(2)).value
    at.selectbox(key=state.model_key(2)).set_value("mobilenet_v2").run()
    at.slider(key=state.knob_key("mobilenet_v2", "width", 2)).set_value(0.75).run()
    got = [int(m.proto.help.replace(",", "")) for m in at.metric if m.label == "MACs"]
    assert got[1] == archlib.analyze("mobilenet_v2", width=0.75).totals()["macs"]
    assert slot2 == state.default_other("lenet", 2)


# -- Concepts ------------------------------------------------------------------------
def test_concepts_link_and_formula():
    at = run("concepts", cin="16", cout="32", k="3", size="28")
    assert exact(at, "Standard MACs") == 3 * 3 * 16 * 32 * 28 * 28
    assert exact(at, "Separable MACs") == 3 * 3 * 16 * 28 * 28 + 16 * 32 * 28 * 28
    assert metrics(at)["1/N + 1/D_K²"] == metrics(at)["Computed ratio"] == f"{1 / 32 + 1 / 9:.4f}"
    at.number_input(key=state.param_key(state.CONCEPTS, "cout")).set_value(64).run()
    assert exact(at, "Standard MACs") == 3 * 3 * 16 * 64 * 28 * 28


def test_concepts_bad_link():
    at = run("concepts", k="99", groups="0")
    text = warnings(at)
    assert "k='99' is not allowed" in text and "[1, 11]" in text
    assert "groups='0' is not allowed" in text
    assert exact(at, "Standard MACs") == 3 * 3 * 32 * 64 * 56 * 56


# -- across pages --------------------------------------------------------------------
def test_switching_pages_keeps_the_model_and_knobs():
    at = run(model="mobilenet_v2", width="0.5")
    for page in ("scaling", "concepts", "compare"):
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception
        assert at.selectbox(key=state.MODEL).value == "mobilenet_v2"
    assert next(m for m in at.metric if m.label == "MACs").value == \
        archlib.core.analysis.human(archlib.analyze("mobilenet_v2", width=0.5).totals()["macs"])
    at.switch_page("../pages/explore.py").run()
    assert_totals(at, "mobilenet_v2", width=0.5)
