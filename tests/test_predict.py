"""Predicted latency: the JSON contract, any Analysis, monotonicity, refusal when uncalibrated,
the fit recovering known weights, and the CLI."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import archlib
from archlib.cli import main
from archlib.core.analysis import Analysis
from archlib.core.cost import KINDS, OpCost, op_cost, register_kind
from archlib.core.ir import IRBuilder
from archlib.core.roofline import BOUNDS
from archlib.errors import ArchlibError
from archlib.hardware import store
from archlib.hardware.latency import calibrate, calplan, latmodel, predict
from tests.latency_support import synthetic_model

LAYER_KEYS = {"name", "op", "class", "predicted_ms", "overhead_ms", "bound", "flops", "bytes", "intensity"}


@pytest.fixture(scope="module")
def model():
    return synthetic_model()


def test_prediction_json_contract(model):
    p = predict.predict("mobilenet_v2", {"width": 0.5}, model=model)
    j = json.loads(json.dumps(p.to_json()))
    a = archlib.analyze("mobilenet_v2", width=0.5)
    assert {"model", "config", "batch", "settings", "host_id", "host", "latency_ms", "framework_ms", "macs", "flops",
            "bytes", "intensity", "bound", "peaks", "calibration", "layers"} <= set(j)
    assert j["model"] == "mobilenet_v2" and j["config"] == a.config and j["batch"] == 1
    assert [r["name"] for r in j["layers"]] == [r.name for r in a.rows]
    assert all(set(r) == LAYER_KEYS and r["bound"] in BOUNDS and r["predicted_ms"] > 0 for r in j["layers"])
    assert j["latency_ms"] == pytest.approx(sum(r["predicted_ms"] for r in j["layers"]) + j["framework_ms"], rel=1e-12)
    assert j["macs"] == a.totals()["macs"] and j["bound"] in ("compute", "memory")
    assert j["settings"] == {"device": "cpu", "threads": 1, "dtype": "float32", "backend": "eager",
                             "channels_last": False}


def test_every_registered_model_is_predicted(model, model_name):
    a = archlib.analyze(model_name)
    p = predict.predict_analysis(a, model)
    assert len(p.layers) == len(a.rows) and math.isfinite(p.latency_ms) and p.latency_ms > 0
    assert all(lp.op_class != "roofline" for lp in p.layers), "every built-in kind has a latency class"


def test_batch_scales_work_not_overhead(model):
    a = archlib.analyze("resnet18", resolution=64)
    one, eight = predict.predict_analysis(a, model), predict.predict_analysis(a, model, batch=8)
    assert one.framework_ms == eight.framework_ms and one.latency_ms < eight.latency_ms < 8 * one.latency_ms
    with pytest.raises(ArchlibError, match=r"batch=0 .*\[1, 1024\]"):
        predict.predict_analysis(a, model, batch=0)


def test_a_custom_ir_and_an_unknown_kind_are_predicted(model):
    if "test_custom_op" not in KINDS:  # an importer's kind no latency class covers
        register_kind("test_custom_op", lambda op: OpCost(0, 0, 1000, 0, 10, 10, 1000), "tests:none")
    b = IRBuilder((8, 64, 64))  # 32,768 input elements: past torch's im2col + GEMM path
    with b.scope("s1", "b1"):
        y = b.conv_bn_act("c", b.input, 16, 3)
    z = b.emit("odd", "test_custom_op", [y], (16, 64, 64))
    b.adaptive_avgpool("pool", z)
    a = Analysis.of("my_stage_table", {}, b.finish())
    p = predict.predict(a, model=model)
    classes = {lp.name: lp.op_class for lp in p.layers}
    assert classes["s1.b1.c.conv"] == "conv_dense" and classes["odd"] == "roofline"
    odd = next(lp for lp in p.layers if lp.name == "odd")
    roof_us = 1e6 * max(odd.flops / model.peak_ops, odd.bytes / model.bandwidth)
    assert odd.predicted_ms == pytest.approx((model.fallback_overhead_us() + roof_us + 1.0) / 1e3)
    assert p.to_json()["model"] == "my_stage_table"


def _conv(cin: int, cout: int, side: int, k: int, groups: int = 1):
    b = IRBuilder((cin, side, side))
    b.conv("c", b.input, cout, k, groups=groups)
    return b.finish().ops[-1]


@given(cin=st.integers(1, 64), cout=st.integers(1, 64), side=st.integers(3, 40), k=st.sampled_from([1, 3, 5]),
       grow=st.sampled_from(["cin", "cout", "side"]), by=st.integers(1, 32))
def test_more_macs_never_means_fewer_features(cin, cout, side, k, grow, by):
    """Every feature is non-decreasing in every size, so non-negative weights make a larger op no faster."""
    small = _conv(cin, cout, side, k)
    big = _conv(cin + by * (grow == "cin"), cout + by * (grow == "cout"), side + by * (grow == "side"), k)
    fs, fb = latmodel.features(small), latmodel.features(big)
    assert all(fb[n] >= fs[n] for n in fs)


def test_fit_recovers_known_weights():
    truth = {"one": 4.0, "flops": 1.5e-5, "flops_pad": 2e-6, "act_bytes": 8e-5, "w_bytes": 3e-5, "big_bytes": 1e-3}
    samples = [s for s in calplan.plan() if s.cls == "conv_dense"][:40]
    data = []
    for s in samples:
        f = latmodel.features(s.op, s.batch)
        data.append((f, sum(w * f[n] for n, w in truth.items())))
    fit = calibrate.fit_class("conv_dense", data)
    got = dict(zip(fit.features, fit.coef))
    for n in ("one", "flops", "act_bytes", "w_bytes"):
        assert got[n] == pytest.approx(truth[n], rel=1e-4), n
    assert fit.cv_error < 1e-6 and fit.samples == 40


def test_fit_refuses_to_mix_hosts():
    with pytest.raises(ArchlibError, match="refusing to mix hosts"):
        calibrate.fit([{"host_id": "elsewhere", "sample": "_harness", "class": "_harness", "op": {}, "value": 1.0}],
                      host={}, host_id="here", settings={"dtype": "float32"})


def test_uncalibrated_prediction_is_refused_with_the_command(tmp_path):
    s = store.Store(tmp_path / "empty.sqlite")
    with pytest.raises(calibrate.NotCalibrated) as e:
        predict.predict("lenet", store=s, threads=1)
    assert "python -m archlib calibrate --threads 1" in str(e.value) and "no latency model" in str(e.value)


def test_a_stored_model_round_trips_and_is_per_settings(tmp_path, model):
    s = store.Store(tmp_path / "m.sqlite")
    s.put_latency_model(model.to_json())
    got = predict.load_model(store=s, threads=1)
    assert got == model
    with pytest.raises(calibrate.NotCalibrated, match="bfloat16"):
        predict.load_model(store=s, threads=1, dtype="bfloat16")


@pytest.mark.parametrize("given, words", [
    ({"backend": "compile"}, ["backend='compile'", "eager"]),
    ({"batch": 4}, ["unknown setting 'batch'"]),
    ({"threads": 0}, ["threads=0", "usable CPUs"]),
])
def test_bad_model_settings_are_named(given, words):
    with pytest.raises(ArchlibError) as e:
        calibrate.model_settings(**given)
    assert all(w in str(e.value) for w in words)


def test_cli_predict_json_and_exit_2_when_uncalibrated(tmp_path, monkeypatch, capsys, model):
    monkeypatch.setenv(store.ENV, str(tmp_path / "cli.sqlite"))
    assert main(["predict", "lenet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no latency model") and "calibrate" in err[0]
    store.Store().put_latency_model(model.to_json())
    assert main(["predict", "mobilenet_v2", "--width", "0.5", "--batch", "2", "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["batch"] == 2 and j["config"]["width"] == 0.5
    assert main(["predict", "mobilenet_v2", "--level", "stage"]) == 0
    out = capsys.readouterr().out
    assert "predicted latency" in out and "s7" in out
    assert main(["predict", "mobilenet_v2", "--batch", "x"]) == 2


def test_a_class_without_a_fit_borrows_its_sibling_on_the_other_kernel_path(model):
    import dataclasses

    thin = dataclasses.replace(model, classes={k: v for k, v in model.classes.items() if k != "conv_dense_gemm"})
    b = IRBuilder((8, 8, 8))  # 512 input elements: torch's GEMM path
    b.conv("c", b.input, 8, 3)
    p = predict.predict_analysis(Analysis.of("small", {}, b.finish()), thin)
    assert p.layers[0].op_class == "conv_dense"
    assert predict.predict_analysis(Analysis.of("small", {}, b.finish()), model).layers[0].op_class == "conv_dense_gemm"


def test_the_graph_carries_and_colours_by_predicted_ms(model, tmp_path, monkeypatch, capsys):
    from archlib.views import blockgraph

    a = archlib.analyze("mobilenet_v2", resolution=96)
    p = predict.predict_analysis(a, model)
    g = blockgraph.op_graph(a, latency_ms=p.by_name)
    for level in ("op", "unit", "block", "stage"):
        c = g if level == "op" else blockgraph.collapse(g, level)
        total = sum(d.get("ms", 0.0) for _, d in c.nodes(data=True))
        assert total == pytest.approx(p.latency_ms - p.framework_ms, rel=1e-12)
    dot = blockgraph.to_dot(blockgraph.collapse(g, "stage"), color_by="ms")
    assert " ms" in dot and "#800026" in dot  # the slowest stage takes the darkest shade (ms are fractions)
    with pytest.raises(ArchlibError, match="color_by='ms' needs a graph with latencies"):
        blockgraph.to_dot(blockgraph.op_graph(a), color_by="ms")
    monkeypatch.setenv(store.ENV, str(tmp_path / "g.sqlite"))
    assert main(["graph", "lenet", "--color-by", "ms"]) == 2  # not calibrated: one line, exit 2
    capsys.readouterr()
    store.Store().put_latency_model(model.to_json())
    assert main(["graph", "lenet", "--color-by", "ms"]) == 0 and " ms" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["1_20", "١٢٠", "120s", "nan", "1"])
def test_cli_calibrate_budget_takes_ascii_digits_only(tmp_path, monkeypatch, capsys, text):
    from archlib.cli import main

    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))
    monkeypatch.setattr(calibrate, "calibrate", lambda **kw: pytest.fail("calibrated with a bad budget"))
    assert main(["calibrate", "--budget-s", text]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: budget_s={text!r} is not allowed") and "[2, 3600]" in err[0]


@pytest.mark.parametrize("batch", [1, 64])
def test_a_gpu_pass_is_the_longer_of_its_launches_and_its_kernels(batch):
    """On a GPU the CPU launches kernels ahead of the GPU: the pass is the longer of the two sums, and the
    layers still sum to the latency (with the framework's part when the launches are longer)."""
    import dataclasses

    from tests.latency_support import synthetic_model

    cpu = synthetic_model()
    gpu = dataclasses.replace(cpu, settings={**cpu.settings, "device": "cuda"})
    a = archlib.analyze("resnet50")
    summed = predict.predict_analysis(a, cpu, batch=batch)
    launches = sum(lp.overhead_ms for lp in summed.layers) + summed.framework_ms
    kernels = sum(lp.predicted_ms - lp.overhead_ms for lp in summed.layers)
    p = predict.predict_analysis(a, gpu, batch=batch)
    assert p.latency_ms == pytest.approx(max(launches, kernels)) and p.latency_ms < summed.latency_ms
    assert p.latency_ms == pytest.approx(sum(lp.predicted_ms for lp in p.layers) + p.framework_ms)
    assert (p.framework_ms == 0) == (kernels > launches)


def test_a_gpu_plan_times_the_cpu_plan_s_ops_at_gpu_batches():
    from archlib.hardware.latency import calplan

    cpu, gpu = calplan.plan(), calplan.plan(device="cuda")
    assert [s.op for s in cpu] == [s.op for s in gpu] and {s.batch for s in gpu} == set(calplan.GPU_BATCHES)
    for s in gpu:
        c = op_cost(s.op)
        assert s.batch == 1 or (c.macs * s.batch <= 4e11 and c.out_elems * s.batch <= 2e8)


def test_a_gpu_model_leaves_its_timings_synchronize_out_of_every_launch():
    """A CUDA calibration that synchronised after every op call stores that synchronize's cost (harness
    sync_us): a batch-1 pass, bound by its launches, is predicted without it, and calibrate's summary says so."""
    import dataclasses

    from archlib.latency_cli import format_model
    from tests.latency_support import synthetic_model

    cpu = synthetic_model()
    gpu = dataclasses.replace(cpu, settings={**cpu.settings, "device": "cuda"})
    synced = dataclasses.replace(gpu, harness={**gpu.harness, "sync_us": 2.0})
    a = archlib.analyze("lenet")  # small enough for the synthetic model's launches to outlast its kernels
    kept, out = predict.predict_analysis(a, gpu), predict.predict_analysis(a, synced)
    assert kept.framework_ms > 0, "the synthetic model's batch-1 pass is bound by its launches"
    summed = predict.predict_analysis(a, cpu)
    launches = sum(max(0.0, lp.overhead_ms - 2.0e-3) for lp in summed.layers) + summed.framework_ms
    kernels = sum(lp.predicted_ms - lp.overhead_ms for lp in summed.layers)
    assert out.latency_ms == pytest.approx(max(launches, kernels)) and out.latency_ms < kept.latency_ms
    assert out.latency_ms == pytest.approx(sum(lp.predicted_ms for lp in out.layers) + out.framework_ms)
    assert "synchronize, 2.0 µs, is left out" in format_model(synced)
    assert "synchronize" not in format_model(gpu) and "synchronize" not in format_model(cpu)
