"""Measuring on this host: sane statistics, bounds refused before allocation, the host lock,
the store, the profiler join and the power status."""
from __future__ import annotations

import math
import multiprocessing as mp
import threading
import time

import pytest

import archlib
from archlib.errors import ArchlibError
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, opprofile, power, store

FAST = {"min_run_time": 0.1, "max_seconds": 30.0, "threads": 1}


def test_latency_of_a_tiny_model_is_sane():
    t = measure.measure_latency("lenet", **FAST)
    assert 0 < t.median_ms < 1000 and t.iqr_ms >= 0 and t.runs >= 1 and t.blocks >= 1
    assert t.threads == 1 and t.batch == 1 and t.kind == "latency"
    assert t.macs == archlib.analyze("lenet").totals()["macs"]
    assert t.macs_per_ms == pytest.approx(t.macs / t.median_ms)
    assert t.analytic_bytes == archlib.analyze("lenet").memory()["inference_total"]
    assert t.wall_s < 30


def test_training_step_of_a_tiny_model_is_sane():
    t = measure.measure_training("lenet", batch=4, **FAST)
    assert t.kind == "train_step" and 0 < t.median_ms < 5000 and t.batch == 4
    assert t.peak_bytes is None or t.peak_bytes >= 0
    assert t.analytic_bytes == archlib.analyze("lenet").memory(batch=4, optimizer="sgd_momentum")["training_total"]


def test_channels_last_and_bfloat16_run():
    t = measure.measure_latency("mobilenet_v2", {"resolution": 32, "width": 0.25}, channels_last=True,
                                dtype="bfloat16", **FAST)
    assert t.median_ms > 0


@pytest.mark.parametrize("given, words", [
    ({"batch": 0}, ["batch=0", "[1, 1024]"]),
    ({"dtype": "int4"}, ["dtype='int4'", "float32"]),
    ({"device": "tpu"}, ["device='tpu'", "cpu, cuda"]),
    ({"min_run_time": 100}, ["min_run_time=100", "[0.05, 20]"]),
    ({"speed": 1}, ["unknown knob 'speed'"]),
    # the Python API takes typed settings: text is parsed by the CLI, never here
    ({"batch": "8"}, ["batch='8'", "a str where the Python API takes an int"]),
    ({"channels_last": "yes"}, ["channels_last='yes'", "a str where the Python API takes a bool"]),
    ({"threads": None}, ["threads=None", "None where the Python API takes an int"]),
    ({"batch": True}, ["batch=True", "a bool where the Python API takes an int"]),
])
def test_bad_settings_name_value_and_range(given, words):
    with pytest.raises(ArchlibError) as e:
        measure.settings(**given)
    assert all(w in str(e.value) for w in words)


def test_cpu_float16_and_missing_cuda_are_refused():
    with pytest.raises(ArchlibError, match="float16"):
        measure.settings(dtype="float16")
    if not hostinfo.cuda_available():
        with pytest.raises(ArchlibError, match="no CUDA GPU"):
            measure.settings(device="cuda")


def test_oversize_is_refused_before_allocating(monkeypatch):
    def no_build(*a, **k):
        raise AssertionError("built a model that should have been refused")

    monkeypatch.setattr(archlib, "build", no_build)
    monkeypatch.setattr(measure, "available_memory", lambda device: 8 * 2**30)  # any host: an 8 GiB one
    with pytest.raises(ArchlibError, match="MiB") as e:
        measure.measure_latency("vgg16", batch=1024, **FAST)
    assert "lower the batch" in str(e.value)
    monkeypatch.setattr(measure, "available_memory", lambda device: 10**15)
    with pytest.raises(ArchlibError, match="MACs"):
        measure.measure_training("vgg16", batch=512, **FAST)


def test_slow_runs_are_bounded(monkeypatch):
    with pytest.raises(ArchlibError, match="max_seconds"):
        measure._warmup(lambda: time.sleep(0.3), {"max_seconds": 1.0}, time.perf_counter() + 1)


def test_host_description_and_id():
    info = hostinfo.host_info()
    assert {"cpu", "logical_cpus", "torch", "device", "torch_threads"} <= set(info)
    assert hostinfo.host_id(info) == hostinfo.host_id(dict(info)) and len(hostinfo.host_id(info)) == 12
    assert hostinfo.host_id(info) != hostinfo.host_id({**info, "hostname": "elsewhere"})


def test_store_round_trip_and_two_hosts(tmp_path):
    s = store.Store(tmp_path / "m.sqlite")
    host = hostinfo.host_info()
    cfg = measure.settings(**FAST)
    s.put(host, "mobilenet_v2", {"width": 0.5}, cfg, "latency", {"median_ms": 3.0})
    s.put(host, "mobilenet_v2", {"width": 0.5}, cfg, "latency", {"median_ms": 2.0})  # replaces
    s.put({**host, "hostname": "other"}, "mobilenet_v2", {"width": 0.5}, cfg, "latency", {"median_ms": 9.0})
    assert s.get(host, "mobilenet_v2", {"width": 0.5}, cfg, "latency") == {"median_ms": 2.0}
    assert s.get(host, "mobilenet_v2", {}, cfg, "latency") is None
    assert len(s.hosts()) == 2 and len(s.rows()) == 2
    again = store.Store(tmp_path / "m.sqlite")  # a restart keeps them
    (mine,) = again.rows(host_id=hostinfo.host_id(host))
    assert mine["config"] == archlib.config("mobilenet_v2", width=0.5) and mine["result"] == {"median_ms": 2.0}


def test_db_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, str(tmp_path / "x.sqlite"))
    assert store.db_path() == tmp_path / "x.sqlite"
    assert store.db_path(tmp_path / "y.sqlite") == tmp_path / "y.sqlite"
    monkeypatch.delenv(store.ENV)
    assert store.db_path().name == "results.sqlite" and ".cache" in str(store.db_path())


def test_record_measures_and_stores(tmp_path):
    s = store.Store(tmp_path / "m.sqlite")
    out = store.record("latency", "lenet", store=s, **FAST)
    assert out["result"]["median_ms"] > 0 and out["host"]["cpu"]
    assert s.get(out["host"], "lenet", {}, out["settings"], "latency") == out["result"]


def _hold(path: str, q, hold: float) -> None:
    with hostinfo.HostLock(path, what="test", timeout=30):
        start = time.time()
        time.sleep(hold)
        q.put((start, time.time()))


def test_lock_serialises_two_processes(tmp_path):
    q = mp.get_context("fork").Queue()
    procs = [mp.get_context("fork").Process(target=_hold, args=(str(tmp_path / "l.lock"), q, 0.4)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(20)
    (a0, a1), (b0, b1) = sorted([q.get(timeout=5), q.get(timeout=5)])
    assert a1 <= b0, "the second holder started before the first released the lock"


def test_a_waiter_hears_busy_and_times_out(tmp_path):
    path = tmp_path / "l.lock"
    heard: list[str] = []
    with hostinfo.HostLock(path, what="measuring latency of resnet50"):
        t = threading.Thread(target=lambda: heard.append(_try(path, heard)))
        t.start()
        t.join(10)
    assert any("busy with measuring latency of resnet50" in m for m in heard)
    assert "still busy" in heard[-1]
    with hostinfo.HostLock(path, timeout=1):  # released: free again
        pass


def _try(path, heard) -> str:
    try:
        with hostinfo.HostLock(path, timeout=0.6, poll=0.1, on_wait=heard.append):
            return "got it"
    except hostinfo.MeasurementBusy as e:
        return str(e)


def test_profile_joins_time_with_macs_by_layer_name():
    p = opprofile.profile("mobilenet_v2", {"resolution": 32, "width": 0.25}, runs=1, threads=1)
    names = [r.name for r in archlib.analyze("mobilenet_v2", resolution=32, width=0.25).rows]
    assert [lt.name for lt in p.layers] == names
    assert sum(lt.time_ms > 0 for lt in p.layers) > 0.9 * len(names)
    assert sum(lt.macs_share for lt in p.layers) == pytest.approx(1.0)
    classes = {c["class"] for c in p.by_class()}
    assert {"depthwise conv", "pointwise conv (1x1)", "elementwise (BN, act, add, pool)"} <= classes
    assert p.operators and all(o["operator"].startswith("aten::") for o in p.operators)
    assert any(math.isnan(lt.slowdown) for lt in p.layers if lt.macs == 0)


def test_family_throughput():
    rows = opprofile.family_throughput([{"model": "lenet", "knobs": {}, "batch": 2, "median_ms": 0.5}])
    assert rows[0]["family"] == "LeNet" and rows[0]["macs_per_ms"] == 2 * archlib.analyze("lenet").totals()["macs"] / 0.5


def test_power_status_says_why():
    ok, why = power.status("cpu")
    assert isinstance(ok, bool) and why.endswith(".")
    if not ok:
        assert why.startswith("This host exposes no power reading") and "powercap" in why
    energy, why2 = measure.measure_energy("lenet", seconds=0.2, **FAST)
    assert (energy is None) == (not ok) and why2 == why


def test_attention_ops_are_classed_as_matmuls_not_elementwise():
    from archlib.core.cost import op_cost
    from archlib.hardware.opprofile import op_class

    ops = archlib.lower("vit_b_16").ops
    assert {op_class(o) for o in ops if o.kind == "attention"} == {"attention (matmuls)"}
    assert all(op_cost(o).macs == 0 for o in ops if op_class(o).startswith("elementwise"))


def test_a_run_that_could_outlast_max_seconds_is_refused_before_it_starts():
    a = archlib.analyze("resnet152")
    with pytest.raises(archlib.ArchlibError, match="max_seconds=1"):
        measure.check_bounds(a, measure.settings(batch=160, max_seconds=1))


@pytest.mark.parametrize("name", ["vit_b_16_performer", "deit_tiny_patch16_224", "efficientnet_b0", "shufflenet_v1_g3"])
def test_class_summary_keeps_every_layer(name):
    """Attention's matmuls (ViT) and every other class op_class names appear in the per-class
    summary: its MACs and shares add up to the model's."""
    a = archlib.analyze(name)
    layers = opprofile._layers(a, {}, False, 1, 2)  # no profiler events: times 0, MACs x batch 2
    summary = opprofile.class_summary(layers)
    assert sum(r["macs"] for r in summary) == 2 * a.totals()["macs"]
    assert sum(r["macs_share"] for r in summary) == pytest.approx(1.0)
    assert {r["class"] for r in summary} == {lt.op_class for lt in layers}
    if name.startswith(("vit", "deit")):
        att = next(r for r in summary if r["class"] == "attention (matmuls)")
        assert att["macs"] == 2 * sum(r.cost.macs for r in a.rows if r.op in ("attention", "favor"))


def test_op_class_names_only_listed_classes():
    ops = [op for name in archlib.list_models()[::7] for op in archlib.lower(name).ops]
    assert {opprofile.op_class(op) for op in ops} <= set(opprofile.CLASSES)
