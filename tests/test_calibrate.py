"""Calibration: the plan, the kernel-path rule against torch's own choice, the store, a tiny
real calibration (resumed, refitted, monotone), the backends and the CUDA timing path."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

import archlib
from archlib.core.ir import IRBuilder
from archlib.errors import ArchlibError
from archlib.hardware import allocator, backends, measure, store
from archlib.hardware.host import HostLock, MeasurementBusy
from archlib.hardware.latency import calibrate, calplan, latmodel, microbench, predict


def test_the_plan_is_seeded_covers_every_class_early_and_round_trips():
    p1, p2 = calplan.plan(), calplan.plan()
    assert [s.key for s in p1] == [s.key for s in p2] and len({s.key for s in p1}) == len(p1)
    assert [s.key for s in calplan.plan(seed=1)] != [s.key for s in p1]
    assert {s.cls for s in p1[:len(calplan.DRAW) * 3]} == set(calplan.DRAW) <= set(latmodel.CLASSES)
    for threads in (1, 2):  # every latency class is sampled, whichever kernel path the threads choose
        assert {latmodel.op_class(s.op, batch=s.batch, threads=threads) for s in p1} == \
            set(latmodel.CLASSES) - ({"conv_group_gemm"} if threads > 1 else set())
    for s in p1[::37]:
        op, batch = calplan.op_from_json(json.loads(json.dumps(s.as_json())))
        assert (op.kind, op.in_shapes, op.out_shape, dict(op.attrs), batch) == \
            (s.op.kind, s.op.in_shapes, s.op.out_shape, dict(s.op.attrs), s.batch)
        assert latmodel.features(op, batch) == latmodel.features(s.op, s.batch)


@pytest.mark.parametrize("cin, cout, k, stride, side, batch, threads", [
    (64, 256, 3, 1, 13, 1, 1),   # 10,816 input elements: im2col + GEMM
    (64, 256, 3, 1, 18, 1, 1),   # 20,736: oneDNN
    (64, 64, 1, 1, 20, 1, 1),    # 1x1, stride 1, one thread: GEMM
    (64, 64, 1, 2, 20, 1, 1),    # strided: oneDNN
    (64, 64, 1, 1, 20, 1, 2),    # two threads: oneDNN
    (64, 64, 5, 1, 5, 1, 1),     # 5x5: oneDNN
    (16, 16, 3, 1, 8, 2, 1),     # batch 2: oneDNN
])
def test_conv_path_rule_matches_the_kernel_torch_runs(cin, cout, k, stride, side, batch, threads):
    import torch
    from torch.profiler import ProfilerActivity, profile

    b = IRBuilder((cin, side, side))
    b.conv("c", b.input, cout, k, stride=stride)
    op = b.finish().ops[-1]
    mod = torch.nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False).eval()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
            mod(torch.randn(batch, cin, side, side))
    finally:
        torch.set_num_threads(before)
    ran = "mkldnn" if any(e.key == "aten::mkldnn_convolution" for e in prof.key_averages()) else "gemm"
    assert latmodel.conv_path(op, batch=batch, threads=threads) == ran


def test_samples_are_kept_per_host_and_settings(tmp_path):
    s = store.Store(tmp_path / "c.sqlite")
    cfg = calibrate.model_settings(threads=1)
    s.put_sample("h1", cfg, "k1", "conv_dense", {"a": 1}, 12.5)
    s.put_sample("h1", cfg, "k1", "conv_dense", {"a": 1}, 10.0)  # replaces
    s.put_sample("h2", cfg, "k1", "conv_dense", {"a": 1}, 99.0)
    s.put_sample("h1", {**cfg, "threads": 2}, "k1", "conv_dense", {"a": 1}, 7.0)
    got = s.samples("h1", cfg)
    assert [(g["sample"], g["value"], g["host_id"]) for g in got] == [("k1", 10.0, "h1")]
    assert s.delete_samples("h1", cfg) == 1 and s.samples("h1", cfg) == [] and len(s.samples("h2", cfg)) == 1


def test_a_measurement_stored_before_backends_existed_still_matches(tmp_path):
    s = store.Store(tmp_path / "m.sqlite")
    host = {"hostname": "x", "cpu": "c", "logical_cpus": 2, "torch": "t", "device": "cpu"}
    cfg = measure.settings(threads=1)
    legacy = {k: cfg[k] for k in ("device", "batch", "threads", "dtype", "channels_last")}
    with s._connect() as con:  # a row as the store wrote it before the backend setting
        con.execute("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?)",
                    (store.host_id(host), "lenet", store._canon(archlib.config("lenet")), store._canon(legacy),
                     "latency", store._canon(host), store._canon({"median_ms": 1.0}), 0.0))
    assert s.get(host, "lenet", {}, cfg, "latency") == {"median_ms": 1.0}
    assert s.rows()[0]["settings"]["backend"] == "eager"
    assert s.get(host, "lenet", {}, {**cfg, "backend": "compile"}, "latency") is None


def test_allocator_is_pinned_on_glibc():
    import platform

    said = allocator.pin()
    assert said.endswith(".")
    if platform.libc_ver()[0] == "glibc":
        assert said.startswith("glibc malloc pinned for the life of this process")


def test_the_allocator_is_pinned_once_per_process_whoever_asks(monkeypatch):
    """Pinning cannot be undone (glibc has no getter), so it is done once: later or concurrent calls
    (two sessions' first measurements) change nothing."""
    import ctypes

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            time.sleep(0.05)
            return 1

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: FakeLibc())
    monkeypatch.setattr(allocator, "_SAID", [])
    said: list[str] = []
    workers = [threading.Thread(target=lambda: said.append(allocator.pin())) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    said.append(allocator.pin())
    assert sorted(calls) == sorted([(allocator._M_MMAP_THRESHOLD, allocator.MMAP_THRESHOLD),
                                    (allocator._M_TRIM_THRESHOLD, allocator.TRIM_THRESHOLD)])
    assert len(set(said)) == 1 and said[0].startswith("glibc malloc pinned for the life of this process")
    assert "cannot be undone" in allocator.__doc__ and "rest of its life" in allocator.__doc__


def test_cuda_timing_synchronises_per_call_or_per_block(monkeypatch):
    """The CUDA path, without a GPU: in "call" mode (an op's default) every call ends with a synchronize; in
    "block" mode the warm-up calls do, then the timed calls run back to back and only each block ends with
    one; the harness measures the synchronize's cost (taken out of each launch) in "call" mode only."""
    import torch

    calls, syncs = [], []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: syncs.append(len(calls)))
    cfg = {"device": "cuda", "threads": 1}
    assert microbench.CUDA_SYNC == "call"
    secs = microbench.time_call(lambda: calls.append(1), cfg)
    assert secs > 0 and len(syncs) == len(calls) > microbench.BLOCKS
    assert syncs == list(range(1, len(calls) + 1)), "a synchronize after each call, before the next"

    calls.clear(), syncs.clear()
    secs = microbench.time_call(lambda: calls.append(1), cfg, sync="block")
    gaps = [b - a for a, b in zip([0, *syncs], syncs)]  # calls between two synchronizes
    warm = gaps.index(max(gaps))  # single synchronised calls choose the block size, then the blocks
    assert secs > 0 and set(gaps[:warm]) == {1} and syncs[-1] == len(calls)
    assert set(gaps[warm:]) == {max(gaps)} and max(gaps) > 1 and len(gaps[warm:]) >= microbench.BLOCKS
    assert microbench.sync_us({"device": "cpu", "threads": 1}) == 0.0 and microbench.sync_us(cfg) > 0
    monkeypatch.setattr(microbench, "CUDA_SYNC", "block")
    assert microbench.sync_us(cfg) == 0.0


def test_gpu_launches_leave_out_the_synchronize_a_calibration_timed():
    """A pass on a GPU is the longer of launches and kernels; a calibration that synchronised every call
    counted a synchronize in each op's per-call cost, which a network's launches do not pay."""
    from archlib.hardware.latency.latmodel import LayerPrediction, _overlapped

    layers = [LayerPrediction(f"l{i}", "conv2d", "conv_dense", 0.030, 0.020, "compute", 1, 1, 1.0) for i in range(10)]
    out, rest = _overlapped(layers, 0.01)  # launches 0.21 ms > kernels 0.10 ms
    assert rest == 0.01 and sum(lp.predicted_ms for lp in out) + rest == pytest.approx(0.21)
    out, rest = _overlapped(layers, 0.01, sync_ms=0.005)  # launches 0.16 ms
    assert sum(lp.predicted_ms for lp in out) + rest == pytest.approx(0.16)
    assert all(lp.overhead_ms == lp.predicted_ms == pytest.approx(0.015) for lp in out)
    out, rest = _overlapped(layers, 0.01, sync_ms=0.015)  # launches 0.06 ms < kernels 0.10 ms
    assert rest == 0.0 and sum(lp.predicted_ms for lp in out) == pytest.approx(0.10)


def test_compile_status_names_a_missing_compiler(monkeypatch):
    ok, why = backends.compile_status("cpu")
    assert isinstance(ok, bool) and why.endswith(".")
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    ok, why = backends.compile_status("cpu")
    assert not ok and "C++ compiler" in why and "backend=eager" in why


def test_compiled_measurements_are_bounded_up_front(monkeypatch):
    monkeypatch.setattr(backends, "compile_status", lambda device: (True, "fine."))
    for seconds in (20, 40):  # 40: the compile may take half of it (21 s here), so timing would get too little
        with pytest.raises(ArchlibError, match=rf"max_seconds={seconds} is too short for backend='compile'.*"
                                               r"cannot be interrupted.*at least 42"):
            backends.check_compile(measure.settings(backend="compile", max_seconds=seconds))
    backends.check_compile(measure.settings(backend="compile", max_seconds=42))
    with pytest.raises(ArchlibError, match="training step"):
        backends.check_compile(measure.settings(backend="compile"), training=True)
    monkeypatch.setattr(backends, "compile_status", lambda device: (False, "no compiler here; use backend=eager."))
    with pytest.raises(ArchlibError, match="no compiler here"):
        measure.measure_latency("lenet", backend="compile", max_seconds=60)


def test_a_compile_that_overran_says_it_ran_to_its_end_and_keeps_the_module(monkeypatch):
    """A first compiled call is not interruptible: past half of max_seconds the measurement stops, saying so."""
    monkeypatch.setattr(backends, "compiled", lambda key, build, first: (build(), 30.0))
    cfg = measure.settings(backend="compile", max_seconds=50, threads=1)
    with pytest.raises(ArchlibError, match=r"compiling lenet took 30 s, more than half of max_seconds=50 \(a compile "
                                           r"cannot be interrupted, so it ran to its end\).*measure again"):
        measure._forward("lenet", {}, cfg, time.perf_counter() - 30.0)
    assert "not interrupted" in next(k for k in measure.SETTINGS if k.name == "backend").help


@pytest.mark.slow
def test_compiled_latency_counts_the_compile_and_caches_the_module():
    if not backends.compile_status("cpu")[0]:
        pytest.skip(backends.compile_status("cpu")[1])
    backends.clear_cache()
    first = measure.measure_latency("lenet", backend="compile", threads=1, min_run_time=0.1, max_seconds=300)
    again = measure.measure_latency("lenet", backend="compile", threads=1, min_run_time=0.1, max_seconds=300)
    assert first.backend == "compile" and first.compile_s > 0 and first.median_ms > 0
    assert again.compile_s is None and any("cache" in n for n in again.notes)
    backends.clear_cache()


def test_calibration_waits_for_the_host_lock_and_says_so(tmp_path):
    s = store.Store(tmp_path / "l.sqlite")
    heard: list[str] = []
    with HostLock(s.lock_path, what="measuring latency of resnet50"):
        t = threading.Thread(target=lambda: heard.append(_try_calibrate(s, heard)))
        t.start()
        t.join(20)
    assert any("busy with measuring latency of resnet50" in m for m in heard) and "still busy" in heard[-1]


def _try_calibrate(s: store.Store, heard: list[str]) -> str:
    try:
        calibrate.calibrate(budget_s=2, store=s, lock_timeout=0.6, on_wait=heard.append, threads=1)
    except MeasurementBusy as e:
        return str(e)
    return "calibrated"


@pytest.mark.slow
def test_a_tiny_calibration_fits_resumes_and_predicts(tmp_path):
    s = store.Store(tmp_path / "cal.sqlite")
    seen: list[calibrate.Progress] = []
    t0 = time.perf_counter()
    m1 = calibrate.calibrate(budget_s=25, store=s, on_progress=seen.append, threads=1)
    assert time.perf_counter() - t0 < 50 and seen and seen[-1].message.startswith("stopped")
    assert 0 < m1.info["samples"] < m1.info["planned"] and not m1.info["complete"]
    counts = Counter(latmodel.op_class(*calplan.op_from_json(r["op"])[:1], batch=calplan.op_from_json(r["op"])[1])
                     for r in s.samples(m1.host_id, m1.settings) if not r["class"].startswith("_"))
    assert {c for c, n in counts.items() if n >= 3} <= set(m1.classes) and len(m1.classes) >= 10
    assert all(v > 0 for v in m1.peaks.values()) and m1.harness["per_op_us"] >= 0
    assert all(w >= 0 for c in m1.classes.values() for w in c.coef)
    m2 = calibrate.calibrate(budget_s=5, store=s, threads=1)  # resumes: the earlier samples are kept
    assert m2.info["samples"] > m1.info["samples"]
    stored = s.samples(m2.host_id, m2.settings)
    assert len({r["sample"] for r in stored}) == len(stored)
    p = predict.predict("mobilenet_v2", {"resolution": 96}, store=s, threads=1)
    assert p.latency_ms > 0 and p.model == predict.load_model(store=s, threads=1)
    for cls in ("conv_dense", "conv_dw", "conv_1x1_gemm"):
        if cls in m2.classes:  # same op, more MACs: not faster
            a, b = (latmodel.features(_op(cls, c)) for c in (32, 64))
            assert m2.classes[cls].us(b) >= m2.classes[cls].us(a)


def _op(cls: str, c: int):
    b = IRBuilder((c, 56, 56))
    if cls == "conv_dw":
        b.conv("c", b.input, c, 3, groups=c)
    else:
        b.conv("c", b.input, c, 1 if cls.startswith("conv_1x1") else 3)
    return b.finish().ops[-1]


def test_looking_the_host_up_needs_no_torch_and_gives_the_same_id():
    import subprocess
    import sys

    from archlib.hardware import host

    assert host.host_id(host.identity("cpu")) == host.host_id(host.host_info("cpu"))
    code = ("import sys; from archlib.hardware import store; from archlib.hardware.latency import calibrate; import tempfile, os; "
            "s = store.Store(os.path.join(tempfile.mkdtemp(), 'x.sqlite'))\n"
            "try:\n    calibrate.load(s, threads=1)\nexcept calibrate.NotCalibrated:\n    pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_calibration_networks_are_seeded_varied_and_not_registered_models():
    from archlib.hardware.latency import calnets

    nets = calnets.nets(12, fits=lambda a: a.totals()["macs"] <= calibrate.NET_MAX_MACS)
    again = calnets.nets(12, fits=lambda a: a.totals()["macs"] <= calibrate.NET_MAX_MACS)
    assert [n.key for n in nets] == [n.key for n in again] and len({n.key for n in nets}) == 12
    assert all(calnets.net(n.index, seed=n.seed).analysis.rows == n.analysis.rows for n in nets)
    kinds = {r.op for n in nets for r in n.analysis.rows}
    assert {"conv2d", "bn2d", "act", "add", "linear"} <= kinds
    assert not {n.analysis.model for n in nets} & set(archlib.list_models())


def test_the_fit_is_checked_on_networks_it_never_saw():
    from archlib.hardware.latency import calnets
    from tests.latency_support import synthetic_model

    m = synthetic_model()
    nets = [(n.analysis, 1e3 * predict.predict_analysis(n.analysis, m).latency_ms * f)
            for n, f in zip(calnets.nets(10, fits=lambda a: a.totals()["macs"] <= calibrate.NET_MAX_MACS),
                            (1.0, 1.05, 0.95, 1.15, 0.85, 1.3, 1.0, 1.0, 1.02, 0.98))]
    got = calibrate.validate(m, nets)
    assert got["nets"] == 10 and got["nets_within_10"] == 0.7 and got["nets_within_20"] == 0.9
    assert got["nets_median_error"] == pytest.approx(1 - 1 / 1.05) and calibrate.validate(m, []) == {}


def _fake_timings(monkeypatch) -> list[tuple[float, list, int]]:
    """Instant micro-benchmarks that note when they ran, what the gate had admitted, and torch's threads."""
    import torch

    from archlib.hardware import gate

    seen: list[tuple[float, list, int]] = []

    def note(value: float) -> float:
        seen.append((time.monotonic(), [t.what for t in gate.GATE.running()], torch.get_num_threads()))
        return value

    monkeypatch.setattr(microbench, "PEAKS", {n: (lambda cfg: note(1e10)) for n in microbench.PEAKS})
    monkeypatch.setattr(microbench, "harness", lambda cfg: note(0) or {"base_us": 3.0, "per_op_us": 1.0,
                                                                         "per_group_us": 0.5})
    monkeypatch.setattr(microbench, "time_op",
                        lambda op, batch, cfg: note(1.0 + latmodel.features(op, batch)["flops"] * 1e-4))
    monkeypatch.setattr(microbench, "time_net", lambda a, cfg: note(10.0 + a.totals()["macs"] * 2e-4))
    monkeypatch.setattr(microbench, "time_measured", lambda a, cfg: note(10.0 + a.totals()["macs"] * 2e-4))
    return seen


def test_each_calibration_timing_is_admitted_heavy_work_with_its_threads_given_back(tmp_path, monkeypatch):
    """Calibration and the gate's other heavy work (cross-check, Performer study, profile) exclude each
    other: each timed step waits for what the gate has admitted, and runs alone; torch's thread count is
    the calibration's only inside a step."""
    import torch

    from archlib.hardware import gate

    seen = _fake_timings(monkeypatch)
    s, heard, released = store.Store(tmp_path / "g.sqlite"), [], []
    threads = min(2, torch.get_num_threads() + 1)
    torch.set_num_threads(threads)
    holding = threading.Event()

    def cross_check() -> None:
        with gate.admit(2 ** 20, "the cross-check of resnet50"):
            holding.set()
            time.sleep(0.6)
            released.append(time.monotonic())

    other = threading.Thread(target=cross_check)
    other.start()
    holding.wait(5)
    try:
        calibrate.calibrate(budget_s=2, store=s, threads=1, on_wait=heard.append)
    finally:
        other.join()
    assert seen and all(w == ["calibrating the latency model"] for _, w, _ in seen), "each step alone in the gate"
    assert min(t for t, _, _ in seen) >= released[0], "no step ran beside the cross-check"
    assert any("the cross-check of resnet50" in m for m in heard), heard
    assert {n for _, _, n in seen} == {1} and torch.get_num_threads() == threads
    assert gate.GATE.running() == []


def test_a_latency_measurement_gives_torch_its_thread_count_back():
    import torch

    threads = min(2, torch.get_num_threads() + 1)
    torch.set_num_threads(threads)
    t = measure.measure_latency("lenet", threads=1, min_run_time=0.05, max_seconds=30)
    assert t.threads == 1 and torch.get_num_threads() == threads


def test_catalogue_networks_are_registered_models_at_sides_no_default_or_held_out_configuration_uses():
    from archlib.hardware.latency import calnets

    cat = calnets.catalogue(calibrate.CATALOGUE)
    assert [c.key for c in cat] == [c.key for c in calnets.catalogue(calibrate.CATALOGUE)], "seeded"
    assert len(cat) == calibrate.CATALOGUE and len({c.name for c in cat}) == len(cat)
    assert len({archlib.get_model(c.name).family.name for c in cat}) >= 10, "spread over the families"
    for c in cat:
        default = archlib.config(c.name)["resolution"]
        assert c.resolution in calnets.CATALOGUE_SIDES and c.resolution != default and c.resolution % 32 == 8
        assert c.analysis.totals()["macs"] <= calnets.CATALOGUE_MAX_MACS
        assert c.analysis.rows == archlib.analyze(c.name, resolution=c.resolution).rows


def test_a_cpu_calibration_times_catalogue_networks_and_a_gpu_one_does_not():
    from archlib.hardware.latency import calnets

    cpu = calibrate.work(calplan.plan(), device="cpu")
    gpu = calibrate.work(calplan.plan(device="cuda"), device="cuda")
    cat = [s for s in cpu if isinstance(s, calnets.CatalogueNet)]
    n = calibrate.CATALOGUE
    assert len(cat) == 2 * n and [c.timing for c in cat] == [1] * n + [2] * n, "every first timing, then the second"
    assert [(c.name, c.resolution) for c in cat[:n]] == [(c.name, c.resolution) for c in cat[n:]]
    assert not any(isinstance(s, calnets.CatalogueNet) for s in gpu)
    assert sum(isinstance(s, calnets.Net) for s in cpu) == sum(isinstance(s, calnets.Net) for s in gpu) == calibrate.NETS
    assert len({s.key for s in cpu}) == len(cpu)


def _timed(m, cat, ws: float, ls: float) -> list:
    """Catalogue networks as if timed on a host where work runs `ws` and per-call costs `ls` times the ops' fits."""
    out = []
    for c in cat:
        p = predict.predict_analysis(c.analysis, m)
        launch = sum(lp.overhead_ms for lp in p.layers) + p.framework_ms
        out.append((c.analysis, 1e3 * (ws * (p.latency_ms - launch) + ls * launch)))
    return out


def test_network_factors_are_recovered_and_scale_the_prediction_consistently():
    from archlib.hardware.latency import calnets
    from tests.latency_support import synthetic_model

    m = synthetic_model()
    cat = calnets.catalogue(calibrate.CATALOGUE)
    got = calibrate.network_factors(m, _timed(m, cat, 0.9, 1.3))
    assert got.harness["work_scale"] == pytest.approx(0.9, rel=1e-6)
    assert got.harness["launch_scale"] == pytest.approx(1.3, rel=1e-6)
    assert got.info["catalogue_error_after"] < 1e-6 < got.info["catalogue_error_before"]
    assert not got.info["catalogue_clipped"] and len(got.info["catalogue_networks"]) == len(cat)
    assert f"{cat[0].name}@{cat[0].resolution}" in got.info["catalogue_networks"]
    a = archlib.analyze("regnetx_004", resolution=160)  # neither the catalogue's nor the factors' network
    before, after = predict.predict_analysis(a, m), predict.predict_analysis(a, got)
    launch = sum(lp.overhead_ms for lp in before.layers) + before.framework_ms
    assert after.latency_ms == pytest.approx(0.9 * (before.latency_ms - launch) + 1.3 * launch)
    assert after.latency_ms == pytest.approx(sum(lp.predicted_ms for lp in after.layers) + after.framework_ms)
    assert after.framework_ms == pytest.approx(1.3 * before.framework_ms)
    refit = calibrate.network_factors(got, _timed(m, cat, 0.9, 1.3))  # fitted on the unscaled ops, not twice
    assert refit.harness["work_scale"] == pytest.approx(0.9, rel=1e-6)
    assert got.to_json() == type(got).from_json(got.to_json()).to_json()


def test_network_factors_need_enough_networks_a_cpu_and_stay_in_range():
    import dataclasses

    from archlib.hardware.latency import calnets
    from archlib.latency_cli import factors_line
    from tests.latency_support import synthetic_model

    m = synthetic_model()
    cat = calnets.catalogue(calibrate.CATALOGUE)
    few = calibrate.network_factors(m, _timed(m, cat[:calibrate.CATALOGUE_MIN - 1], 0.9, 1.3))
    assert few == m and "calibrate again" in factors_line(few)
    gpu = dataclasses.replace(m, settings={**m.settings, "device": "cuda"})
    assert calibrate.network_factors(gpu, _timed(m, cat, 0.9, 1.3)) == gpu and "GPU" in factors_line(gpu)
    wild = calibrate.network_factors(m, _timed(m, cat, 5.0, 1.0))
    assert wild.harness["work_scale"] == calibrate.FACTOR_RANGE[1] and wild.info["catalogue_clipped"]
    assert "clipped" in factors_line(wild)
    ok = calibrate.network_factors(m, _timed(m, cat, 0.95, 1.2))
    assert "work x0.950, per-call costs x1.200" in factors_line(ok)


def test_catalogue_networks_are_timed_as_a_measurement_times_a_model():
    """The network factors are fitted to what `measure` reports: a catalogue network is timed by the
    measurement's own warm-up and adaptive_autorange (not time_net's two warm-up passes)."""
    a = archlib.analyze("mobilenet_v3_small", resolution=136)
    us = microbench.time_measured(a, calibrate.model_settings(threads=1))
    ms = measure.measure_latency("mobilenet_v3_small", {"resolution": 136}, threads=1, min_run_time=0.3).median_ms
    assert 0.5 < us / 1e3 / ms < 2.0


def test_a_catalogue_network_keeps_the_faster_of_its_two_timings():
    from archlib.hardware.latency import calnets

    c = calnets.catalogue(1)[0]
    first, second = c, calnets.again(c)
    assert first.key != second.key and (first.timing, second.timing) == (1, 2)
    old_key = f"cat{calnets.CATALOGUE_VERSION - 1}/{c.name}/{c.resolution}/1"
    rows = [{"class": "_catalogue", "sample": k, "op": {"name": c.name, "resolution": c.resolution}, "value": v}
            for k, v in ((first.key, 900.0), (second.key, 1200.0), (old_key, 100.0))]
    (a, us), = calibrate._catalogue(rows)  # the older version's sample (timed otherwise) is not read
    assert us == 900.0 and a.rows == c.analysis.rows
