"""The process-wide admission gate for heavy work: one bound on the total planned memory of all
sessions, arrival order, refusals with the limit named, re-entrance, and that every heavy
path (measurements, the profile, the cross-check, the Performer studies) goes through it."""
from __future__ import annotations

import threading
import time

import pytest

import archlib
from archlib.errors import ArchlibError
from archlib.hardware import gate

MiB = 2**20


def fixed(n: int):
    return lambda device: n


def hold(g: gate.Gate, need: int, what: str, log: list, seconds: float, **kw) -> threading.Thread:
    def work() -> None:
        try:
            with g.admit(need, what, poll=0.02, **kw):
                log.append(("start", what, time.monotonic()))
                time.sleep(seconds)
                log.append(("end", what, time.monotonic()))
        except ArchlibError as e:
            log.append(("refused", what, str(e)))

    t = threading.Thread(target=work)
    t.start()
    return t


def test_total_planned_memory_is_bounded_across_sessions():
    """Two sessions each planning 40% of the memory: together past the 50% bound, so one waits."""
    g = gate.Gate(fraction=0.5, slots=4, available=fixed(1000 * MiB))
    log: list = []
    a = hold(g, 400 * MiB, "a", log, 0.3)
    time.sleep(0.1)
    b = hold(g, 400 * MiB, "b", log, 0.05)
    a.join(5)
    b.join(5)
    events = [(e[0], e[1]) for e in log]
    assert events == [("start", "a"), ("end", "a"), ("start", "b"), ("end", "b")]


def test_small_work_runs_beside_when_it_fits():
    g = gate.Gate(fraction=0.5, slots=4, available=fixed(1000 * MiB))
    log: list = []
    a = hold(g, 300 * MiB, "a", log, 0.3)
    time.sleep(0.1)
    b = hold(g, 100 * MiB, "b", log, 0.01)
    a.join(5)
    b.join(5)
    assert [(e[0], e[1]) for e in log][:2] == [("start", "a"), ("start", "b")]


def test_one_slot_serialises_and_keeps_arrival_order():
    g = gate.Gate(slots=1, available=fixed(10**12))
    log: list = []
    threads = [hold(g, MiB, "first", log, 0.2)]
    for name in ("second", "third", "fourth"):
        time.sleep(0.05)
        threads.append(hold(g, MiB, name, log, 0.01))
    for t in threads:
        t.join(5)
    starts = [e[1] for e in log if e[0] == "start"]
    assert starts == ["first", "second", "third", "fourth"]
    for first, then in zip(log, log[1:]):
        assert not (first[0] == "start" and then[0] == "start"), "two ran at once"


def test_work_that_could_never_fit_is_refused_at_once():
    g = gate.Gate(fraction=0.5, available=fixed(1000 * MiB))
    t0 = time.monotonic()
    with pytest.raises(ArchlibError) as e:
        with g.admit(600 * MiB, "the cross-check of vit_b_16"):
            pass
    assert time.monotonic() - t0 < 1
    assert "the cross-check of vit_b_16 plans 600 MiB, more than 50% of the 1,000 MiB" in str(e.value)


def test_a_waiter_hears_why_and_times_out_naming_the_holder():
    g = gate.Gate(slots=1, available=fixed(10**12))
    log: list = []
    t = hold(g, MiB, "measuring the latency of resnet50", log, 0.6)
    time.sleep(0.1)
    heard: list[str] = []
    with pytest.raises(gate.GateBusy) as e:
        with g.admit(MiB, "the cross-check of lenet", timeout=0.3, poll=0.05, on_wait=heard.append):
            pass
    t.join(5)
    assert heard and "other heavy work to finish (measuring the latency of resnet50)" in heard[0]
    assert "the cross-check of lenet waited 0 s for other heavy work" in str(e.value)
    with g.admit(MiB, "after"):  # released: free again
        assert [x.what for x in g.running()] == ["after"]


def test_admission_is_reentrant_in_a_thread():
    g = gate.Gate(slots=1, available=fixed(10**12))
    with g.admit(MiB, "outer") as outer:
        with g.admit(2 * MiB, "inner") as inner:
            assert inner is outer and g.planned() == 3 * MiB
        assert g.planned() == MiB
    assert g.planned() == 0 and not g.running()


class Recording(gate.Gate):
    def __init__(self) -> None:
        super().__init__(available=fixed(10**12))
        self.seen: list[tuple[str, int]] = []

    def admit(self, need, what, **kw):
        self.seen.append((what, need))
        return super().admit(need, what, **kw)


@pytest.fixture
def recording(monkeypatch) -> Recording:
    g = Recording()
    monkeypatch.setattr(gate, "GATE", g)
    return g


def test_measurements_and_the_profile_are_admitted_with_their_planned_memory(recording):
    from archlib.hardware import measure, opprofile

    fast = {"min_run_time": 0.05, "threads": 1}
    measure.measure_latency("lenet", **fast)
    measure.measure_training("lenet", batch=2, **fast)
    opprofile.profile("lenet", runs=1, threads=1)
    mem = archlib.analyze("lenet").memory()
    assert recording.seen == [("measuring the latency of lenet", mem["inference_total"]),
                              ("measuring a training step of lenet",
                               archlib.analyze("lenet").memory(batch=2)["training_total"]),
                              ("profiling lenet", mem["inference_total"])]


def test_performer_studies_are_admitted(recording, tmp_path, monkeypatch):
    from archlib import performer

    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "m.sqlite"))
    q, k, v = performer.random_qkv(32, 8)
    performer.approximation_error(q, k, v, features=16, seeds=range(2))
    performer.vit_qkv("deit_tiny_patch16_224", resolution=32)
    performer.measure_latency("softmax", 64, dim=16, heads=1, features=8, min_run_time=0.01)
    whats = [w for w, _ in recording.seen]
    assert whats == ["the FAVOR+ error study at m = 16", "building deit_tiny_patch16_224 for its q, k, v",
                     "timing softmax attention at 64 tokens"]
    assert all(n > 0 for _, n in recording.seen)


def test_the_apps_crosscheck_is_admitted_with_what_check_fits_plans(recording):
    from app.ui import cache

    items = (("num_classes", 7),)
    cache.crosscheck("lenet", items)
    mem = archlib.analyze("lenet", num_classes=7).memory()
    assert recording.seen == [("the cross-check of lenet", mem["weights"] + mem["training_saved_activations"])]
