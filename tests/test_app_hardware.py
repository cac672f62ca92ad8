"""AppTest of predicted latency across the app: Explore's totals, layers and graph, the calibrate
button, Scaling's solver on predicted latency, Pareto's predicted axis and predicted-vs-measured
view, and the Hardware page (roofline, rank correlation, accuracy). A hand-made latency model
(tests.latency_support) stands in for a calibration, so the numbers are known."""
from __future__ import annotations

import json

import pytest
from app_support import MAIN
from app_support import run as open_page
from streamlit.testing.v1 import AppTest

import archlib
from app.hardware import model as hwmodel
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, store
from archlib.hardware.latency import calibrate, predict
from tests.latency_support import synthetic_model


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))
    return store.Store()


@pytest.fixture
def calibrated(db):
    m = synthetic_model()
    db.put_latency_model(m.to_json())
    return m


def _values(x) -> list[float]:
    """A plotly array, plain or binary-encoded ({"dtype", "bdata"})."""
    if isinstance(x, dict):
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist()
    return list(x)


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(e.value for e in getattr(at, kind))


def predicted(m, model: str = "efficientnet_b0", **knobs) -> float:
    return predict.predict_analysis(archlib.analyze(model, **knobs), m).latency_ms


def test_explore_shows_the_predicted_latency_beside_the_macs(calibrated):
    at = open_page(model="mobilenet_v2", width="0.5")
    ms = predicted(calibrated, "mobilenet_v2", width=0.5)
    box = metric(at, "Latency")
    assert box.value == f"{ms:.3g} ms" and box.proto.help.startswith(f"{ms:.4f} ms per forward pass")
    assert not any(b.label == "Calibrate this host" for b in at.button)


def open_offer(at: AppTest) -> AppTest:
    """Open Explore's "Not calibrated" expander (as a click on it does: its panel is built only when open)."""
    assert [e.label for e in at.expander if e.label.startswith("Not calibrated")]
    assert not any(b.label == "Calibrate this host" for b in at.button)  # closed: not built
    at.session_state[hwmodel.OFFER] = True
    return at.run()


def test_explore_not_calibrated_says_so_and_offers_to_calibrate(db):
    at = open_page()
    assert metric(at, "Latency").value == "—" and metric(at, "Latency").delta == "not calibrated"
    open_offer(at)
    assert any(b.label == "Calibrate this host" for b in at.button)


def test_the_calibrate_button_shows_progress_and_then_predicts(db, monkeypatch):
    seen = []

    def fake(*, budget_s, on_progress, should_stop, **kw):  # the real run is tests/test_calibrate.py's
        seen.append((budget_s, kw["threads"]))
        for i in (1, 2):
            on_progress(calibrate.Progress(i, 2, 0.1 * i, budget_s, f"sample {i}"))
        m = synthetic_model()
        store.Store().put_latency_model(m.to_json())
        return m

    monkeypatch.setattr(calibrate, "calibrate", fake)
    at = open_offer(open_page())
    next(b for b in at.button if b.label == "Calibrate this host").click().run()
    assert not at.exception and seen == [(calibrate.DEFAULT_BUDGET_S, 1)]
    assert metric(at, "Latency").value == f"{predicted(synthetic_model()):.3g} ms"
    assert any("Calibrated in" in t.value for t in at.toast)


def test_layers_carry_predicted_ms_and_the_graph_colours_by_them(calibrated):
    at = open_page(model="resnet18", view="layers")
    df = at.dataframe[0].value
    p = predict.predict_analysis(archlib.analyze("resnet18"), calibrated)
    assert list(df["predicted_ms"]) == pytest.approx([lp.predicted_ms for lp in p.layers])
    at = open_page(model="resnet18", color="ms")
    assert "predicted ms on this host" in texts(at, "caption") and "needs this host" not in texts(at, "info")


def test_colouring_by_predicted_ms_without_a_model_falls_back_to_macs(db):
    at = open_page(model="resnet18", color="ms")
    assert "Colouring by predicted latency needs this host's latency model" in texts(at, "info")


def test_scaling_solves_on_predicted_latency_at_once(calibrated):
    at = open_page("scaling", lab="mobilenet", budget_metric="predicted", budget="20ms")
    md = texts(at, "markdown")
    assert "is predicted at" in md and "none run" in md
    assert any(b.label == "Verify by measuring" for b in at.button)
    from app.scaling import lab

    sol = lab.solve_max(lambda x: predicted(calibrated, "mobilenet_v1", width=x, resolution=224), 0.25, 2.0, 20.0,
                        step=0.01)
    assert f"**α = {sol.x:g}** is predicted at {sol.cost:.2f} ms" in md


def test_scaling_predicted_budget_without_a_model_says_how(db):
    at = open_page("scaling", lab="mobilenet", budget_metric="predicted", budget="5ms")
    assert "no latency model" in texts(at, "warning")


def test_pareto_has_a_predicted_axis_where_every_buildable_point_has_a_value(calibrated):
    at = open_page("pareto", x="predicted", model="mobilenet_v2", cfg="width=0.6")
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "predicted" in fig["layout"]["xaxis"]["title"]["text"].lower()
    xs = [x for t in fig["data"] if t.get("customdata") and t.get("mode") == "markers" for x in _values(t["x"])]
    from app.pareto import data

    pub = data.published(data.DEVICES[0], {}, lambda m, k: predicted(calibrated, m, **k))
    buildable = pub[pub["top1_pct"].notna() & (pub["archlib_model"] != "")]
    assert len(xs) == len(buildable) > 200 and all(x > 0 for x in xs)
    ms = predicted(calibrated, "mobilenet_v2", width=0.6)
    assert any(s.get("x0") == pytest.approx(ms) for s in fig["layout"]["shapes"]), "the custom configuration's line"


def test_pareto_predicted_vs_measured_view(calibrated, db):
    host = hostinfo.host_info()
    cfg = measure.settings(threads=1)
    db.put(host, "lenet", {}, cfg, "latency", {"median_ms": 0.2})
    at = open_page("pareto")
    md = texts(at, "markdown")
    assert "**1 measurements**" in md and "within ±10%" in md


def test_hardware_page_roofline_rank_and_accuracy(calibrated):
    at = open_page("hardware", model="resnet18")
    assert at.title[0].value == "This host"
    assert metric(at, "Matmul GFLOP/s").value == "80.0" and metric(at, "Memory GB/s").value == "20.0"
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t.get("name") for t in fig["data"]]
    assert {"roofline", "cache roof", "model, predicted", "conv2d"} <= set(names)
    moving = [lp for lp in predict.predict_analysis(archlib.analyze("resnet18"), calibrated).layers if lp.bytes]
    layer_traces = [t for t in fig["data"] if t.get("mode") == "markers" and not t["name"].startswith("model, ")]
    assert sum(len(_values(t["x"])) for t in layer_traces) == len(moving)
    at = open_page("hardware", view="rank")
    df = at.dataframe[0].value
    assert df["family"].iloc[-1] == "all models" and df["models"].iloc[-1] == len(archlib.list_models())
    rho = df["ρ predicted"]
    assert rho[df["models"] >= 3].between(-1, 1).all() and rho[df["models"] < 3].isna().all()
    at = open_page("hardware", view="accuracy")
    assert len(at.dataframe[0].value) == len(calibrated.classes)


def test_hardware_page_not_calibrated_and_bad_links(db):
    at = open_page("hardware", model="mobilenet_v2", view="bogus", width="99", speed="1")
    assert "Not calibrated" in texts(at, "warning")
    warned = texts(at, "warning").replace("\\", "")
    assert "view='bogus' is not allowed" in warned and "width='99'" in warned and "Unknown parameter speed" in warned
    assert any(b.label == "Calibrate this host" for b in at.button)


def _fake_calibration(monkeypatch) -> list:
    seen = []

    def fake(*, budget_s, on_progress, should_stop, **kw):  # the real run is tests/test_calibrate.py's
        seen.append((budget_s, kw["threads"]))
        on_progress(calibrate.Progress(1, 2, 0.1, budget_s, "sample 1"))
        m = synthetic_model()
        store.Store().put_latency_model(m.to_json())
        return m

    monkeypatch.setattr(calibrate, "calibrate", fake)
    return seen


def test_the_calibrate_button_on_the_hardware_page_calibrates(db, monkeypatch):
    seen = _fake_calibration(monkeypatch)
    at = open_page("hardware", model="resnet18")
    next(b for b in at.button if b.label == "Calibrate this host").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert seen == [(calibrate.DEFAULT_BUDGET_S, 1)]
    assert metric(at, "Matmul GFLOP/s").value == "80.0" and "Calibrated in" in texts(at, "success")


@pytest.mark.parametrize("page", ["hardware", "pareto"])
def test_the_link_keeps_the_table_the_knobs_give(calibrated, page):
    at = open_page(page, model="regnet_y_400mf", w0="40")
    assert at.query_params.get("w0") == "40" and "stages" not in at.query_params, at.query_params
    link = "\n".join(c.value for c in at.sidebar.code)
    assert "w0=40" in link and "stages=" not in link


def test_the_hardware_page_names_a_knob_error_instead_of_crashing(calibrated):
    at = open_page("hardware", model="vit_b_16")
    at.session_state["knob.vit_b_16.heads"] = 5  # as Explore's sidebar can set it (a link cannot)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "embed_dim=768 is not allowed with heads=5" in texts(at, "error").replace("\\", "")
    at = open_page("hardware", model="mobilenet_v2", resolution="32")
    at.session_state["knob.mobilenet_v2.stages"] = "t1k3s2c16n1-t6k3s2c24n2-t6k3s2c32n1-t6k3s2c64n1-t6k3s2c96n1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Using the model's own table" in texts(at, "error").replace("\\", "")
    assert any(t.get("name") == "model, predicted" for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"])


def test_the_latency_settings_are_the_measurement_settings_and_a_refused_one_is_named(db):
    at = open_page("hardware")
    threads = next(n for n in at.number_input if n.label == "threads")
    assert (threads.proto.min, threads.proto.max) == (1, hostinfo.usable_cpus())
    assert "float16" not in next(s for s in at.selectbox if s.label == "dtype").options
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.session_state["hardware.dtype"] = "float16"  # held from elsewhere: the control never offers it on a CPU
    at.session_state["hardware.channels_last"] = True
    at.switch_page("../pages/hardware.py").run()
    assert not at.exception, [e.value for e in at.exception]
    err = texts(at, "error").replace("\\", "")
    assert "dtype='float16' is not allowed on cpu" in err and "use dtype=float32 instead" in err
    want = calibrate.describe(calibrate.model_settings(channels_last=True))  # the other settings are kept
    assert want in texts(at, "warning").replace("\\", "") and at.session_state["hardware.dtype"] == "float32"
    at.run()
    assert "float16" not in texts(at, "error"), "named once, then the default is what the control holds"


def test_a_failed_measurement_is_not_kept_for_every_session(db, monkeypatch):
    """One cached measurement for Hardware, Scaling's solver and its Verify button: a failure is not cached."""
    from app.hardware import model as hwmodel
    from app.scaling import lab

    calls = []

    def flaky(kind, model, knobs, **kw):
        calls.append((model, kw["threads"]))
        if len(calls) % 2:
            raise hostinfo.MeasurementBusy("This host is still busy with another measurement after 60 s.")
        return {"result": {"median_ms": 1.25}}

    monkeypatch.setattr(store, "record", flaky)
    hwmodel._measured.clear()
    cfg = calibrate.model_settings() | hwmodel.CHECK_TIMING
    with pytest.raises(hostinfo.MeasurementBusy):
        hwmodel.measured_ms("lenet", (), cfg)
    assert hwmodel.measured_ms("lenet", (), cfg) == 1.25 and hwmodel.measured_ms("lenet", (), cfg) == 1.25
    assert lab.measured("alexnet", {}) is None and lab.measured("alexnet", {}) == 1.25
    assert calls == [("lenet", 1)] * 2 + [("alexnet", 1)] * 2, "measured again after a failure, then cached"


def test_verify_by_measuring_says_what_it_measures_with_and_why_it_failed(calibrated, monkeypatch):
    monkeypatch.setattr(store, "record", lambda *a, **k: (_ for _ in ()).throw(
        hostinfo.MeasurementBusy("This host is still busy with profiling resnet50 after 60 s.")))
    at = open_page("scaling", lab="mobilenet", budget_metric="predicted", budget="20ms")
    button = next(b for b in at.button if b.label == "Verify by measuring")
    assert calibrate.describe(calibrated.settings) in button.help and "one thread" not in button.help
    button.click().run()
    assert "still busy with profiling resnet50" in texts(at, "error").replace("\\", "")


def test_a_rerun_opens_no_database_and_predicts_no_stored_measurement_again(calibrated, db, monkeypatch):
    db.put(hostinfo.host_info(), "lenet", {}, measure.settings(threads=1), "latency", {"median_ms": 0.2})
    explore, pareto = open_page(model="resnet18"), open_page("pareto")
    checks, predicted = [], []
    check, predict_analysis = store.Store._check, predict.predict_analysis
    monkeypatch.setattr(store.Store, "_check", lambda self, con: (checks.append(1), check(self, con))[1])
    monkeypatch.setattr(predict, "predict_analysis", lambda *a, **k: (predicted.append(1),
                                                                      predict_analysis(*a, **k))[1])
    explore.run()
    pareto.run()
    assert not explore.exception and not pareto.exception
    assert "**1 measurements**" in texts(pareto, "markdown")
    assert checks == [] and predicted == [], "the database is checked once per version, the table made once"
    db.put(hostinfo.host_info(), "alexnet", {}, measure.settings(threads=1), "latency", {"median_ms": 9.0})
    pareto.run()
    assert "**2 measurements**" in texts(pareto, "markdown") and len(checks) == 1, "a write is seen at once"


def test_a_database_broken_while_the_app_runs_is_named_on_the_next_run(db, tmp_path):
    at = open_page("pareto")
    assert not texts(at, "error")
    db.path.write_bytes(b"this is not a database" * 100)
    at.run()
    assert "is corrupt" in texts(at, "error").replace("\\", "")
