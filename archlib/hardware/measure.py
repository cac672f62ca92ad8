"""Measuring a configuration on this host: latency, a training step, peak memory, energy.

Latency uses torch.utils.benchmark (a timed warm-up, then `adaptive_autorange`: median and
IQR over blocks of runs, thread count set by the Timer) under `torch.inference_mode`;
on CUDA every run ends with a synchronize. glibc's malloc thresholds are pinned first
(archlib.hardware.allocator), so a timing does not depend on what ran before it. Sizes are checked against the analytic memory
of the configuration (Analysis.memory) and a MACs budget *before* anything is allocated,
and every measurement is bounded in time (a torch.compile first call only up front: it cannot be
interrupted, see archlib.hardware.backends). torch is imported lazily.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import archlib
from archlib.core.knobs import Knob, parse_given, resolve
from archlib.errors import ArchlibError
from archlib.hardware import allocator, backends
from archlib.hardware.gate import admit
from archlib.hardware.host import available_memory, cuda_available, usable_cpus

BACKENDS = ("eager", "compile")
#: the settings every measurement takes; one schema for the API, the CLI and the app
SETTINGS: tuple[Knob, ...] = (
    Knob("device", "choice", "cpu", "where it runs", choices=("cpu", "cuda")),
    Knob("batch", "int", 1, "images per forward pass", lo=1, hi=1024, step=1),
    # 1 by default: comparable with the published single-core mobile latencies, and stable on a
    # shared host (with more threads than free cores, OpenMP's spinning made a 15 ms pass take 2 s;
    # resnet50 at 256 threads on 2 cores stored 22x its 2-thread time): at most this host's cores
    Knob("threads", "int", 1, f"CPU threads, at most the {usable_cpus()} this host lets archlib use", lo=1,
         hi=usable_cpus(), step=1),
    Knob("dtype", "choice", "float32", "number format", choices=("float32", "bfloat16", "float16")),
    Knob("channels_last", "bool", False, "NHWC memory format"),
    Knob("backend", "choice", "eager", "eager PyTorch, or torch.compile (inference; its first call compiles: "
         "counted against max_seconds, which must leave room for it, but not interrupted; the compiled module "
         "is cached per configuration)", choices=BACKENDS),
    Knob("min_run_time", "float", 1.0, "seconds of timed runs (after warm-up)", lo=0.05, hi=20.0, step=0.05),
    Knob("max_seconds", "float", 60.0, "hard bound on one measurement, seconds", lo=1.0, hi=600.0, step=1.0),
)
#: fraction of the available memory a measurement may plan to use
MEMORY_FRACTION = 0.5
#: MACs (x batch) of one forward pass above which a measurement is refused, per device
MAX_MACS = {"cpu": 2e12, "cuda": 1e14}
#: a pessimistic throughput (MACs per second; per thread on the CPU), so that a first run
#: expected to outlast max_seconds is refused before it starts: half the slowest rate seen
#: on the development host (mobilenet_v2, depthwise-heavy, at 6-12 GMACs/s on one thread)
SLOW_MACS_PER_S = {"cpu": 3e9, "cuda": 1e12}


def settings(**given: Any) -> dict[str, Any]:
    """Validated measurement settings (defaults filled in); bad values name their range."""
    return _checked(lambda: resolve(SETTINGS, given, model="measurement"))


def parse_settings(given: Mapping[str, str]) -> dict[str, Any]:
    """The settings given as text (the CLI, URLs), typed: only those given, as `settings` takes them."""
    return _checked(lambda: parse_given(SETTINGS, given, model="measurement", text=True), fill=False)


def _checked(parse: Callable[[], dict[str, Any]], *, fill: bool = True) -> dict[str, Any]:
    try:
        cfg = parse()
    except ArchlibError as e:
        if str(e).startswith("threads="):
            raise ArchlibError(f"{e} The most is this host's {usable_cpus()} usable CPUs: more threads only "
                               "contend for them and time the contention.") from None
        raise
    if not fill:
        return cfg
    if cfg["device"] == "cuda" and not cuda_available():
        raise ArchlibError("device='cuda' is not allowed: this host has no CUDA GPU; device must be cpu.")
    if cfg["device"] == "cpu" and cfg["dtype"] == "float16":
        raise ArchlibError("dtype='float16' is not allowed on cpu: use float32 or bfloat16 (float16 needs cuda).")
    return cfg


def check_bounds(analysis: archlib.Analysis, cfg: Mapping[str, Any], *, training: bool = False) -> dict[str, int]:
    """Refuse a measurement that would not fit in memory or in the MACs budget; returns the
    analytic memory (bytes) it plans for. Nothing is allocated here."""
    fixed = analysis.ir.batch
    if fixed is not None and cfg["batch"] != fixed:
        raise ArchlibError(f"batch={cfg['batch']} is not allowed for {analysis.model}: its graph fixes the batch at "
                           f"{fixed} (the file's input does); measure it with batch {fixed}.")
    dtype = "float32" if cfg["dtype"] == "float32" else "bfloat16"
    mem = analysis.memory(batch=cfg["batch"], dtype=dtype, optimizer="sgd_momentum")
    need = mem["training_total"] if training else mem["inference_total"]
    have = available_memory(cfg["device"])
    if need > MEMORY_FRACTION * have:
        raise ArchlibError(
            f"{analysis.model} at batch {cfg['batch']} needs about {need / 2**20:,.0f} MiB "
            f"({'training' if training else 'inference'}, analytic), more than {MEMORY_FRACTION:.0%} of the "
            f"{have / 2**20:,.0f} MiB available on {cfg['device']}; lower the batch or the resolution.")
    macs = analysis.totals()["macs"] * cfg["batch"] * (3 if training else 1)
    limit = MAX_MACS[cfg["device"]]
    if macs > limit:
        raise ArchlibError(f"{analysis.model} at batch {cfg['batch']} is {macs:.3g} MACs per "
                           f"{'step' if training else 'pass'}; at most {limit:.0e} are measured on {cfg['device']}.")
    # speed grows with threads at best up to the cores: beyond them threads only contend
    cores = min(max(1, cfg["threads"]), usable_cpus())
    rate = SLOW_MACS_PER_S[cfg["device"]] * (cores if cfg["device"] == "cpu" else 1)
    if 4 * macs / rate > cfg["max_seconds"]:
        raise ArchlibError(
            f"{analysis.model} at batch {cfg['batch']} ({macs:.3g} MACs per {'step' if training else 'pass'}) could "
            f"take up to {macs / rate:,.0f} s a run here; max_seconds={cfg['max_seconds']:g} allows at least 4 runs: "
            f"lower the batch or resolution, or raise max_seconds (at most 600).")
    return mem


@dataclass
class Timing:
    """The statistics of one timed measurement (times in milliseconds)."""

    kind: str  # "latency" | "train_step"
    median_ms: float
    iqr_ms: float
    mean_ms: float
    runs: int  # timed runs in all (blocks x runs per block)
    blocks: int
    warmup_ms: float
    threads: int
    batch: int
    peak_bytes: int | None  # measured peak (CPU: the process's RSS high-water mark delta; CUDA: max allocated)
    analytic_bytes: int  # Analysis.memory's estimate for the same case
    macs: int  # per pass (x batch)
    wall_s: float
    notes: list[str] = field(default_factory=list)
    backend: str = "eager"
    compile_s: float | None = None  # torch.compile's first call; None: eager, or compiled earlier (cached)

    @property
    def macs_per_ms(self) -> float:
        return self.macs / self.median_ms if self.median_ms > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"macs_per_ms": self.macs_per_ms}


# -- memory probes -----------------------------------------------------------
def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark (Linux clear_refs 5); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory of a block: CUDA max_memory_allocated, or the CPU RSS high-water mark delta."""

    def __init__(self, device: str) -> None:
        self.device, self.peak, self.note = device, None, ""

    def __enter__(self) -> PeakMemory:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._exact = _reset_peak_rss()
            self._base = (_status_kb("VmRSS") or 0) * 1024
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = int(torch.cuda.max_memory_allocated() - self._base)
            return
        hwm = _status_kb("VmHWM")
        self.peak = max(0, hwm * 1024 - self._base) if hwm is not None else None
        # the high-water mark is the whole process's: in the app's server it also counts what other
        # sessions' light work allocated meanwhile (heavy work waits at archlib.hardware.gate), and
        # resetting it is seen by the whole process (nothing else in archlib reads it)
        self.note = ("peak RSS of the whole process over this measurement (its high-water mark, reset at the "
                     "start): anything else the process allocated meanwhile is included" if self._exact else
                     "the process's peak RSS could not be reset: the delta is a lower bound")


# -- building the case ----------------------------------------------------------
def _dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def prepare(name: str, knobs: Mapping[str, Any], cfg: Mapping[str, Any], *, training: bool = False):
    """Build the model and a random input batch on the device, as the settings say."""
    import torch

    allocator.pin()  # a timing must not depend on what this process allocated before it
    model = archlib.build(name, **knobs)
    analysis = archlib.analyze(name, **knobs)
    x = torch.randn((cfg["batch"], *analysis.input_shape))
    fmt = torch.channels_last if cfg["channels_last"] and x.dim() == 4 else torch.contiguous_format
    model = model.to(device=cfg["device"], dtype=_dtype(cfg["dtype"]), memory_format=fmt)
    x = x.to(device=cfg["device"], dtype=_dtype(cfg["dtype"])).contiguous(memory_format=fmt)
    model.train(training)
    return model, x


def _sync_fn(fn: Callable[[], Any], device: str) -> Callable[[], Any]:
    if device != "cuda":
        return fn
    import torch

    def synced() -> None:
        fn()
        torch.cuda.synchronize()

    return synced


def _warmup(fn: Callable[[], Any], cfg: Mapping[str, Any], deadline: float) -> float:
    """Run `fn` until warm (3 runs, or 0.2 s); the first run's time in ms. Refuses a run
    so slow that the measurement could not finish within max_seconds."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first * 4 > cfg["max_seconds"]:
        raise ArchlibError(f"one run took {first:.1f} s; a measurement is bounded to max_seconds="
                           f"{cfg['max_seconds']:g} s (at least 4 runs): lower the batch or raise max_seconds.")
    n = 1
    while n < 3 or (time.perf_counter() - t0 < 0.2 and time.perf_counter() < deadline):
        fn()
        n += 1
    return first * 1e3


def _time(fn: Callable[[], Any], cfg: Mapping[str, Any], started: float, kind: str) -> tuple[Any, float]:
    """Warm up, then torch.utils.benchmark's adaptive_autorange within the time bound."""
    import torch
    from torch.utils import benchmark

    deadline = started + cfg["max_seconds"]
    before = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        warm = _warmup(fn, cfg, deadline)
    finally:
        torch.set_num_threads(before)
    left = max(0.05, deadline - time.perf_counter())
    budget = min(cfg["min_run_time"], left / 2)
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=cfg["threads"], label=kind)
    # adaptive: small blocks (~50 ms) until >3 blocks, min_run_time spent and IQR/median < 10%,
    # or 3 x min_run_time (never past the time bound)
    m = timer.adaptive_autorange(threshold=0.1, min_run_time=budget, max_run_time=min(3 * budget, left))
    return m, warm


def time_forward(fn: Callable[[], Any], cfg: Mapping[str, Any]) -> float:
    """Median ms of `fn` timed by a measurement's method (its warm-up, then adaptive_autorange within
    `cfg`'s min_run_time and max_seconds; synchronised on CUDA), for a caller already admitted by the gate
    (a calibration timing catalogue networks)."""
    m, _ = _time(_sync_fn(fn, cfg["device"]), cfg, time.perf_counter(), "latency")
    return m.median * 1e3


def _timing(kind: str, m: Any, warm: float, cfg: Mapping[str, Any], peak: PeakMemory, analytic: int,
            macs: int, started: float) -> Timing:
    times = [t * 1e3 for t in m.times]
    notes = [peak.note] if peak.note else []
    if len(times) < 4:
        notes.append(f"only {len(times)} timed blocks: the IQR is rough; raise min_run_time")
    return Timing(kind, m.median * 1e3, m.iqr * 1e3, m.mean * 1e3, len(times) * m.number_per_run, len(times),
                  warm, cfg["threads"], cfg["batch"], peak.peak, analytic, macs, time.perf_counter() - started,
                  notes)


def _torch_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A failure inside torch becomes an ArchlibError that names the model and the cause."""
    import functools

    @functools.wraps(fn)
    def wrapped(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(name, *args, **kwargs)
        except ArchlibError:
            raise
        except (RuntimeError, ValueError, NotImplementedError) as e:
            raise ArchlibError(f"{name}: the measurement failed in torch: {str(e).splitlines()[0][:300]}") from e

    return wrapped


def _forward(name: str, knobs: dict[str, Any], cfg: Mapping[str, Any], started: float) -> tuple[Callable, float | None]:
    """The forward pass to time (eager, or compiled: cached per configuration) and the compile time."""
    model, x = prepare(name, knobs, cfg)
    if cfg["backend"] != "compile":
        return _sync_fn(lambda: model(x), cfg["device"]), None
    key = (name, tuple(sorted(archlib.config(name, **knobs).items())),
           *(cfg[k] for k in ("device", "dtype", "channels_last", "batch")))
    module, took = backends.compiled(key, lambda: model, lambda m: m(x))  # not interruptible (archlib.hardware.backends)
    if time.perf_counter() - started > cfg["max_seconds"] / 2:
        raise ArchlibError(f"compiling {name} took {took or 0:.0f} s, more than half of max_seconds="
                           f"{cfg['max_seconds']:g} (a compile cannot be interrupted, so it ran to its end), leaving "
                           "too little to time it; the compiled module is kept: measure again to time it.")
    return _sync_fn(lambda: module(x), cfg["device"]), took


@_torch_errors
def measure_latency(name: str, knobs: Mapping[str, Any] | None = None, **given: Any) -> Timing:
    """Inference latency of one forward pass of `name` at `knobs` (settings as `given`)."""
    import torch

    knobs, cfg = dict(knobs or {}), settings(**given)
    started = time.perf_counter()
    analysis = archlib.analyze(name, **knobs)
    mem = check_bounds(analysis, cfg)
    backends.check_compile(cfg)
    with admit(mem["inference_total"], f"measuring the latency of {name}", device=cfg["device"]), \
            PeakMemory(cfg["device"]) as peak:
        with torch.inference_mode():
            fn, compile_s = _forward(name, knobs, cfg, started)
            m, warm = _time(fn, cfg, started, "latency")
    macs = analysis.totals()["macs"] * cfg["batch"]
    t = _timing("latency", m, warm, cfg, peak, mem["inference_total"], macs, started)
    t.backend, t.compile_s = cfg["backend"], compile_s
    if cfg["backend"] == "compile" and compile_s is None:
        t.notes.append("compiled module reused from this process's cache (compiled earlier)")
    return t


@_torch_errors
def measure_training(name: str, knobs: Mapping[str, Any] | None = None, **given: Any) -> Timing:
    """Time of one training step (forward, cross-entropy, backward, SGD-momentum step) and its
    peak memory next to the analytic training memory."""
    import torch

    knobs, cfg = dict(knobs or {}), settings(**given)
    started = time.perf_counter()
    analysis = archlib.analyze(name, **knobs)
    mem = check_bounds(analysis, cfg, training=True)
    backends.check_compile(cfg, training=True)
    with admit(mem["training_total"], f"measuring a training step of {name}", device=cfg["device"]), \
            PeakMemory(cfg["device"]) as peak:
        model, x = prepare(name, knobs, cfg, training=True)
        classes = analysis.output_shape[-1]
        target = torch.randint(0, classes, (cfg["batch"],), device=cfg["device"])
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x).float().flatten(1), target).backward()
            opt.step()

        m, warm = _time(_sync_fn(step, cfg["device"]), cfg, started, "train_step")
    macs = analysis.totals()["macs"] * cfg["batch"]
    return _timing("train_step", m, warm, cfg, peak, mem["training_total"], macs, started)


@_torch_errors
def measure_energy(name: str, knobs: Mapping[str, Any] | None = None, *, seconds: float = 1.0,
                   **given: Any) -> tuple[Any, str]:
    """(Energy or None, a sentence naming the power source or why there is none)."""
    import torch

    from archlib.hardware import power

    knobs, cfg = dict(knobs or {}), settings(**given)
    ok, why = power.status(cfg["device"])
    if not ok:
        return None, why
    analysis = archlib.analyze(name, **knobs)
    mem = check_bounds(analysis, cfg)
    backends.check_compile(cfg)
    started = time.perf_counter()
    with admit(mem["inference_total"], f"measuring the energy of {name}", device=cfg["device"]):
        with torch.inference_mode():
            fn, _ = _forward(name, knobs, cfg, started)
            _warmup(fn, cfg, started + cfg["max_seconds"])
            energy = power.measure(fn, cfg["device"], seconds=min(seconds, cfg["max_seconds"] / 2),
                                   batch=cfg["batch"])
    return energy, why
