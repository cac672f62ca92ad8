"""AppTest of the Pareto page: URL in, chart out, honest custom points, measuring, click-to-open."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import archlib
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, store

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
PAGE = "../pages/pareto.py"


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))
    return store.Store()


def open_page(query: dict[str, str] | None = None, **session) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=90)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    for k, v in session.items():
        at.session_state[k] = v
    at.switch_page(PAGE).run()  # the first run opens this page, as a link to it does
    assert not at.exception, [e.value for e in at.exception]
    return at


def spec(at: AppTest) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def points(fig: dict) -> list[dict]:
    return [t for t in fig["data"] if t.get("customdata") and t.get("mode") == "markers"]


def test_page_renders_the_published_fronts(db):
    at = open_page()
    assert at.title[0].value == "Where does it sit?"
    fig = spec(at)
    assert fig["layout"]["xaxis"]["type"] == "log"
    ids = [c[0] for t in points(fig) for c in t["customdata"]]
    assert len(ids) > 200 and all(i.startswith("r") for i in ids)
    names = {t.get("name") for t in fig["data"]}
    assert "Pareto front, all sources" in names and "front: paper" in names
    assert any("citation" in c[1] or "<i>" in c[1] for t in points(fig) for c in t["customdata"])


def test_url_sets_axis_and_filters(db):
    at = open_page({"x": "params", "fam": "MobileNetV2,EfficientNet", "src": "torchvision", "front": "overall"})
    fig = spec(at)
    assert "Parameters" in fig["layout"]["xaxis"]["title"]["text"]
    fams = {t["legendgroup"] for t in points(fig)}
    assert fams == {"MobileNetV2", "EfficientNet"}
    assert not any(str(t.get("name", "")).startswith("front:") for t in fig["data"])
    assert at.query_params["x"] == "params" and at.query_params["front"] == "overall"


def test_bad_url_values_are_named_and_ignored(db):
    at = open_page({"x": "bananas", "fam": "Foo", "cfg": "width=99"}, model="mobilenet_v2")
    text = " ".join(w.value for w in at.warning).replace("\\", "")  # shown markdown-escaped
    assert "x='bananas'" in text and "macs" in text
    assert "fam='Foo'" in text and "MobileNetV2" in text
    assert "width='99'" in text
    assert "Unknown parameter x" not in text
    assert "MACs" in spec(at)["layout"]["xaxis"]["title"]["text"]


def test_custom_configuration_has_no_accuracy(db):
    at = open_page({"model": "mobilenet_v2", "width": "0.6"})  # knobs spelled as on every page
    md = " ".join(m.value for m in at.markdown)
    assert "custom configuration with **no published or measured accuracy**" in md
    fig = spec(at)
    assert any(s.get("type") == "line" for s in fig["layout"].get("shapes", []))
    assert not any(t.get("name") == "your configuration (published)" for t in fig["data"])
    assert at.query_params["width"] == "0.6" and "cfg" not in at.query_params


def test_old_cfg_links_still_open_and_are_rewritten(db):
    """A link written before the one codec (`cfg=width=0.6;resolution=160`) opens the same configuration;
    the page then writes the knobs as Explore does."""
    at = open_page({"model": "mobilenet_v2", "cfg": "width=0.6;resolution=160", "x": "params"})
    assert not at.warning
    assert at.session_state["knob.mobilenet_v2.width"] == 0.6
    assert at.session_state["knob.mobilenet_v2.resolution"] == 160
    assert {k: at.query_params[k] for k in at.query_params} == {
        "model": "mobilenet_v2", "width": "0.6", "resolution": "160", "x": "params"}
    assert "mobilenet_v2** width=0.6;resolution=160" in " ".join(m.value for m in at.markdown)


def test_published_configuration_is_ringed(db):
    at = open_page({"model": "efficientnet_b0"})
    assert any(t.get("name") == "your configuration (published)" for t in spec(at)["data"])


def test_measured_axis_reads_this_hosts_store(db):
    cfg = measure.settings()
    db.put(hostinfo.host_info(), "efficientnet_b0", {}, cfg, "latency", {"median_ms": 12.5})
    at = open_page({"x": "measured"})
    hovers = [c[1] for t in points(spec(at)) for c in t["customdata"]]
    assert hovers and all("measured here 12.50 ms" in h for h in hovers)
    assert all("EfficientNet-B0" in h or "efficientnet" in h.lower() for h in hovers)


def test_measure_button_measures_and_stores(db):
    at = open_page({"model": "mobilenet_v2", "width": "0.25", "resolution": "32"},
                   **{"pareto.m.min_run_time": 0.05})
    btn = next(b for b in at.button if b.label == "Measure latency")
    btn.click().run()
    assert not at.exception
    assert any(m.label == "Median" for m in at.metric)
    (row,) = db.rows(kind="latency")
    assert row["model"] == "mobilenet_v2" and row["config"] == archlib.config("mobilenet_v2", width=0.25, resolution=32)


def click(at: AppTest, row_id: str) -> AppTest:
    """A click on the chart's point `row_id`: the selection the browser sends back as the chart's widget
    state (AppTest has no Plotly element to click, so the state is sent as Streamlit's frontend sends it)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    chart = at.get("plotly_chart")[0]
    selection = {"selection": {"points": [{"curve_number": 0, "point_number": 0, "point_index": 0,
                                           "customdata": [row_id]}],
                               "point_indices": [0], "box": [], "lasso": []}}
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    return at._run(states)


def test_a_clicked_point_opens_in_explore(db):
    from app.pareto import data as pareto_data

    row = next(r for r in pareto_data.RESULTS if r.archlib_model == "mobilenet_v2" and dict(r.knobs) == {
        "width": 0.75, "resolution": 192})
    at = open_page({"fam": "MobileNetV2"})
    assert f"r{row.row}" in [c[0] for t in points(spec(at)) for c in t["customdata"]]  # a point on the chart
    click(at, f"r{row.row}")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "mobilenet_v2"  # now on Explore, with the point's configuration
    assert at.session_state["knob.mobilenet_v2.width"] == 0.75
    assert {k: at.query_params[k] for k in at.query_params} == {"model": "mobilenet_v2", "width": "0.75",
                                                                "resolution": "192"}
    t = archlib.analyze("mobilenet_v2", width=0.75, resolution=192).totals()
    assert next(m for m in at.metric if m.label == "MACs").proto.help.startswith(f"{t['macs']:,} ")


def _fake_record(calls: list[str], cancel_after: int | None = None):
    """store.record without torch: counts the models and stores a result; after `cancel_after` models
    it does what the Cancel button's callback does while a model is being measured."""
    def fake(kind, model, knobs=None, *, store=None, **kw):
        import streamlit as st

        from app.pareto import measure as meas

        cfg = measure.settings(**{k: v for k, v in kw.items() if k in {s.name for s in measure.SETTINGS}})
        calls.append(model)
        store.put(hostinfo.host_info(), model, knobs or {}, cfg, kind, {"median_ms": 1.0 + len(calls)})
        if len(calls) == cancel_after:
            st.session_state.update({meas.CANCEL: True, meas.RUNNING: False})
        return {"result": {"median_ms": 1.0}}
    return fake


@pytest.mark.parametrize("cancel_after", [None, 1, 2], ids=["no-cancel", "cancel-after-1", "cancel-after-2"])
def test_measure_all_runs_every_model_and_cancel_stops_it_between_models(db, monkeypatch, cancel_after):
    """Without a cancel (the positive control) every configuration shown is measured, with progress;
    a cancel during model k stops the loop before model k + 1."""
    calls: list[str] = []
    monkeypatch.setattr(store, "record", _fake_record(calls, cancel_after))
    at = open_page({"fam": "SqueezeNet,AlexNet"})
    start = next(b for b in at.button if b.label.startswith("Measure all"))
    n = int(start.label.split()[-1])
    assert n >= 3
    start.click().run()
    assert not at.exception
    want = n if cancel_after is None else cancel_after
    assert len(calls) == want and len(db.rows(kind="latency")) == want
    left = [b.label for b in at.button if b.label.startswith("Measure all")]
    assert left == ([] if cancel_after is None else [f"Measure all {n - want}"])


def test_two_hosts_are_compared(db):
    cfg = measure.settings()
    here = hostinfo.host_info()
    db.put(here, "resnet50", {}, cfg, "latency", {"median_ms": 80.0})
    db.put({**here, "hostname": "gpu-box", "device": "cuda: H200"}, "resnet50", {}, cfg, "latency",
           {"median_ms": 4.0})
    at = open_page()
    assert any("Measured on more than one host" in m.value for m in at.markdown)
    frames = [d.value for d in at.dataframe]
    pivot = next(f for f in frames if "settings" in f.columns)
    assert sorted(pivot.iloc[0][[c for c in pivot.columns if c not in ("model", "knobs", "settings")]]) == [4.0, 80.0]


def test_hover_shows_archlib_count_and_how_far_the_source_is():
    """A published point says what archlib counts for the configuration it opens as."""
    from app.pareto import chart as pareto_chart
    from app.pareto import data as pareto_data
    df = pareto_data.published("", {})
    squeeze = df[(df["family"] == "SqueezeNet") & (df["macs_M"] == 1700)].iloc[0]  # MobileNetV1's citation
    text = pareto_chart._hover(squeeze.to_dict())
    from archlib.data import results

    knobs = results.parse_knobs(squeeze["archlib_model"], squeeze["archlib_knobs"] or "")
    ours = archlib.analyze(squeeze["archlib_model"], **knobs).totals()["macs"] / 1e6
    assert f"archlib counts MACs {ours:,.0f}M" in text
    assert f"(this source: {1700 / ours - 1:+.0%})" in text
    tv = df[(df["archlib_model"] == "mobilenet_v2") & (df["kind"] == "torchvision")].iloc[0]
    assert "this source" not in pareto_chart._hover(tv.to_dict())  # torchvision's own count agrees


def test_measured_axis_with_nothing_measured_says_so(db):
    at = open_page({"x": "measured"})
    assert any("has been measured on this host" in i.value for i in at.info)
