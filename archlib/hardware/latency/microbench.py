"""Micro-benchmarks for calibration: one op, the host's peaks, the framework's overhead.

Every timing is torch.utils.benchmark's Timer (thread count set by it) in blocks of about
`BLOCK_S`, the median of `BLOCKS` blocks after a warm-up (oneDNN builds its kernels on a
shape's first call). On CUDA an op's calls are each followed by a synchronize (CUDA_SYNC =
"call"), so a call costs its launch, its kernel and the synchronize, which the harness
measures on an empty queue (sync_us) and the prediction takes out of each layer's launch;
"block" launches the calls back to back with one synchronize per block (a call then costs the
longer of its launch and its kernel). On the lent H200, "call" predicted 18 models 9.6% off
(median), "block" 12.3% (all too fast), and "call" with the synchronize left in 26.6%
(benchmarks/gpu_latency_check_h200.log, run 4). A whole network is timed as a measurement
times it, with a synchronize after every forward. Ops are built by the same
leaf factories the model's modules are (archlib.views.torchmodel), so what is timed is
what a model runs. torch is imported lazily.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from typing import Any

from archlib.core.ir import IRBuilder, Op
from archlib.core.roofline import dtype_bytes
from archlib.errors import ArchlibError
from archlib.hardware.latency.latmodel import features

BLOCK_S = 0.008
BLOCKS = 5
#: twice the development host's last-level cache: a ring this large leaves its oldest block out of the cache
COLD_BYTES = 64 * 2 ** 20
#: single calls timed per op (torch.utils.benchmark with a setup before each), within about COLD_BUDGET_S
COLD_CALLS, COLD_BUDGET_S = 25, 0.05
#: weights from this size are read cold (GEMVs read them at ~35 GB/s from the cache, ~18 GB/s from memory here)
COLD_WEIGHTS = 64 * 2 ** 10
#: a micro-benchmark may plan to use this share of the available memory
MEMORY_SHARE = 0.25
#: harness probes: this many do-nothing ops in a row
HARNESS_OPS = 40
#: seconds of timed runs per catalogue network (time_measured), after the measurement's warm-up
NET_RUN_S = 0.3
#: how an op's CUDA timing synchronises (time_call): "call" (after every call) or "block" (back to back)
CUDA_SYNC = "call"


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def time_call(fn: Callable[[], Any], cfg: Mapping[str, Any], *, sync: str | None = None) -> float:
    """Median seconds of one call of `fn` (warm-up, then BLOCKS blocks of about BLOCK_S). On CUDA,
    `sync` (CUDA_SYNC unless given) says where the synchronizes go: "block" (calls back to back, one
    synchronize ending each block) or "call" (one after every call)."""
    from torch.utils import benchmark

    cuda = cfg["device"] == "cuda"
    if cuda:
        import torch

        inner = fn

        def fn() -> None:
            inner()
            torch.cuda.synchronize()

    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=cfg["threads"])
    first = timer.timeit(1).median  # also the warm-up: kernels are chosen on the first call of a shape
    first = min(first, timer.timeit(1).median)
    number = max(1, int(BLOCK_S / max(first, 1e-7)))
    if cuda and (sync or CUDA_SYNC) == "block":

        def block() -> None:
            for _ in range(number):
                inner()
            torch.cuda.synchronize()

        blocks = benchmark.Timer(stmt="block()", globals={"block": block}, num_threads=cfg["threads"])
        return statistics.median(blocks.timeit(1).median for _ in range(BLOCKS)) / number
    return statistics.median(timer.timeit(number).median for _ in range(BLOCKS))


def sync_us(cfg: Mapping[str, Any]) -> float:
    """µs a synchronize adds to each timed call of an op: that of an empty queue on CUDA in "call" mode
    (the prediction takes it out of a layer's launch), else 0."""
    if cfg["device"] != "cuda" or CUDA_SYNC != "call":
        return 0.0
    return 1e6 * time_call(lambda: None, cfg, sync="call")


def op_inputs(op: Op, batch: int, cfg: Mapping[str, Any]) -> list[Any]:
    """Random inputs of `op`'s shapes, batched, on the device, in the settings' dtype and format."""
    import torch

    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    out = []
    for shape in op.in_shapes:
        x = torch.randn((batch, *shape), dtype=_torch_dtype(cfg["dtype"]), device=cfg["device"])
        out.append(x.contiguous(memory_format=fmt) if x.dim() == 4 else x)
    return out


def op_module(op: Op, cfg: Mapping[str, Any]) -> Any:
    """`op`'s leaf module as a built model has it (eval mode, device, dtype, memory format)."""
    import torch

    from archlib.views.torchmodel import leaf_factory

    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    mod = leaf_factory(op.kind)(op.attrs).eval()
    return mod.to(device=cfg["device"], dtype=_torch_dtype(cfg["dtype"]), memory_format=fmt)


def op_bytes(op: Op, batch: int, cfg: Mapping[str, Any]) -> int:
    """Bytes timing `op` plans: its tensors, and the rings of outputs and weights."""
    f = features(op, batch, cfg["dtype"])
    return int(2 * (f["act_bytes"] + f["w_bytes"]) + 2 * COLD_BYTES)


def fits_in_memory(op: Op, batch: int, cfg: Mapping[str, Any], available: int) -> bool:
    """Whether timing `op` (its tensors, and the rings of outputs and weights) fits MEMORY_SHARE."""
    return op_bytes(op, batch, cfg) <= MEMORY_SHARE * available


def peak_bytes(cfg: Mapping[str, Any]) -> int:
    """Bytes the peak probes plan, at most: the copy's source, destination and the float32 tensor a 16-bit
    source is made from (a GPU's probes are four times the CPU's)."""
    return 4 * (4 if cfg["device"] == "cuda" else 1) * COLD_BYTES


def _copies(nbytes: float, most: int) -> int:
    """How many buffers of `nbytes` a ring needs to span COLD_BYTES (at least 1, at most `most`)."""
    return max(1, min(most, math.ceil(COLD_BYTES / max(nbytes, 1.0))))


def time_op(op: Op, batch: int, cfg: Mapping[str, Any]) -> float:
    """Median µs of one call of `op`'s leaf module on a batch of `batch`, as a layer inside a
    network runs it: its input hot (just written), its output written to memory that is not in the
    cache, and its weights (from COLD_WEIGHTS) not in the cache either: the rest of the network
    evicted them since the last pass. Outputs are kept in a ring, so each call writes a block last
    touched COLD_BYTES ago; weights rotate among copies of the module spanning COLD_BYTES."""
    import copy
    import itertools

    f = features(op, batch, cfg["dtype"])
    mod, xs = op_module(op, cfg), op_inputs(op, batch, cfg)
    copies = _copies(f["w_bytes"], 256) if f["w_bytes"] >= COLD_WEIGHTS else 1
    mods = [mod] + [copy.deepcopy(mod) for _ in range(copies - 1)]
    ring: list[Any] = [None] * _copies(math.prod(op.out_shape) * batch * dtype_bytes(cfg["dtype"]), 32)
    count = itertools.count()

    def call() -> None:
        j = next(count)
        ring[j % len(ring)] = mods[j % len(mods)](*xs)

    if cfg["device"] != "cpu":  # a GPU's kernels do not run colder for having other code run between them
        return 1e6 * time_call(call, cfg)
    return 1e6 * time_cold(call, lambda: [x.sum() for x in xs], cfg)


def _thrash(cfg: Mapping[str, Any]) -> Callable[[], None]:
    """What runs between two timed calls, as the rest of a network would: other kernels (a conv, BN,
    ReLU, a pool, a linear layer) and a copy of twice the L2 cache, so that neither the op's code
    nor its data is left warm by the call before."""
    import torch

    conv = torch.nn.Conv2d(16, 16, 3, padding=1).eval()
    bn, pool, fc = torch.nn.BatchNorm2d(16).eval(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Linear(16, 16)
    x = torch.randn(1, 16, 16, 16)
    src = torch.randn(2 ** 19)  # 2 MiB
    dst = torch.empty_like(src)

    def thrash() -> None:
        fc(pool(torch.relu(bn(conv(x)))).flatten(1))
        dst.copy_(src)

    return thrash


def time_cold(call: Callable[[], Any], warm: Callable[[], Any], cfg: Mapping[str, Any]) -> float:
    """Seconds of a single call of `call` (the lower quartile of up to COLD_CALLS), each after other
    code ran (a network's other layers) and `warm` touched its inputs (just written by the layer
    before). torch.utils.benchmark runs the setup before every timed call."""
    import torch
    from torch.utils import benchmark

    thrash = _thrash(cfg)
    with torch.inference_mode():
        timer = benchmark.Timer(stmt="call()", setup="thrash(); warm()", num_threads=cfg["threads"],
                                globals={"call": call, "thrash": thrash, "warm": warm})
        first = min(timer.timeit(1).median, timer.timeit(1).median)  # kernels are chosen on the first call
        n = max(5, min(COLD_CALLS, int(COLD_BUDGET_S / max(first, 1e-6))))
        times = sorted(timer.timeit(1).median for _ in range(n))
    # the lower quartile: every call is cold alike, so the spread above it is another process's interference
    # (two calibrations an hour apart on the shared host differed by 5% with the median, 2% with this)
    return times[(len(times) - 1) // 4]



def _forward(a: Any, cfg: Mapping[str, Any]) -> Callable[[], Any]:
    """One forward pass of analysis `a`'s built module on a random input, as the settings say."""
    import torch

    from archlib.views.torchmodel import build_module

    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    m = build_module(a.ir).eval().to(device=cfg["device"], dtype=_torch_dtype(cfg["dtype"]), memory_format=fmt)
    x = torch.randn((1, *a.input_shape), dtype=_torch_dtype(cfg["dtype"]), device=cfg["device"])
    x = x.contiguous(memory_format=fmt) if x.dim() == 4 else x
    return lambda: m(x)


def time_net(a: Any, cfg: Mapping[str, Any]) -> float:
    """Median µs of one forward pass of analysis `a`'s built module (a calibration network)."""
    return 1e6 * time_call(_forward(a, cfg), cfg, sync="call")


def time_measured(a: Any, cfg: Mapping[str, Any]) -> float:
    """Median µs of one forward pass of analysis `a`'s built module timed as archlib.hardware.measure times
    a model (its warm-up of at least 0.2 s, then adaptive_autorange for NET_RUN_S): the network factors are
    fitted to what a measurement reports (with time_net's two warm-up passes, three catalogue networks came
    out 4-15% slower than `measure` reported minutes later, on a host noisy enough for that to be noise too;
    timing them the same way as a measurement removes the question)."""
    from archlib.hardware import measure

    mcfg = measure.settings(**{k: cfg[k] for k in ("device", "threads", "dtype", "channels_last")},
                            min_run_time=NET_RUN_S)
    return 1e3 * measure.time_forward(_forward(a, cfg), mcfg)


# -- the host's peaks ---------------------------------------------------------------
def peak_matmul(cfg: Mapping[str, Any]) -> float:
    """FLOP/s of a square matrix product (n = 1024 on the CPU, 8192 on a GPU)."""
    import torch

    n = 8192 if cfg["device"] == "cuda" else 1024
    a, b = (torch.randn(n, n, dtype=_torch_dtype(cfg["dtype"]), device=cfg["device"]) for _ in range(2))
    return 2 * n ** 3 / time_call(lambda: torch.matmul(a, b), cfg)


def peak_conv(cfg: Mapping[str, Any]) -> float:
    """FLOP/s of a dense 3x3 convolution, 256 -> 256 channels at 28 x 28 (x 32 on a GPU)."""
    import torch

    batch = 32 if cfg["device"] == "cuda" else 1
    b = IRBuilder((256, 28, 28))
    b.conv("conv", b.input, 256, 3)
    op = b.finish().ops[-1]
    mod, (x,) = op_module(op, cfg), op_inputs(op, batch, cfg)
    with torch.inference_mode():
        return features(op, batch)["flops"] / time_call(lambda: mod(x), cfg)


def peak_bandwidth(cfg: Mapping[str, Any]) -> float:
    """Bytes/s of a copy of 64 MiB (256 MiB on a GPU): twice the last-level cache, read + written."""
    import torch

    n = (2 ** 26 if cfg["device"] == "cuda" else 2 ** 24) * 4 // torch.empty((), dtype=_torch_dtype(cfg["dtype"])
                                                                                ).element_size()
    src = torch.randn(n, device=cfg["device"]).to(_torch_dtype(cfg["dtype"]))
    dst = torch.empty_like(src)
    return 2 * src.numel() * src.element_size() / time_call(lambda: dst.copy_(src), cfg)


def peak_cache_bandwidth(cfg: Mapping[str, Any]) -> float:
    """Bytes/s of a copy of 256 KiB (read + written: half a 1 MiB L2), the roof of data that stays cached."""
    import torch

    src = torch.randn(2 ** 16, device=cfg["device"])
    dst = torch.empty_like(src)
    return 2 * src.numel() * src.element_size() / time_call(lambda: dst.copy_(src), cfg)


PEAKS: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "matmul_flops": peak_matmul, "conv_flops": peak_conv, "bandwidth": peak_bandwidth,
    "cache_bandwidth": peak_cache_bandwidth}


# -- the framework's overhead ----------------------------------------------------------
def _dropouts(n: int, grouped: bool) -> Any:
    from archlib.views.torchmodel import build_module

    b = IRBuilder((16, 4, 4))
    x = b.input
    for i in range(n):
        if grouped:
            with b.scope(f"s{i}", "b1"):
                x = b.dropout("d", x, 0.0)
        else:
            x = b.dropout(f"d{i}", x, 0.0)
    return build_module(b.finish()).eval()


def harness(cfg: Mapping[str, Any]) -> dict[str, float]:
    """µs the built module adds to its ops: per forward (base), per op and per name group.

    Measured on models of do-nothing ops (dropout at inference): a leaf called directly;
    1 and HARNESS_OPS of them in a row; HARNESS_OPS each inside two name groups.
    """
    import torch

    x = torch.randn(1, 16, 4, 4, device=cfg["device"])
    leaf = torch.nn.Dropout(0.0).eval()
    one, flat, grouped = _dropouts(1, False), _dropouts(HARNESS_OPS, False), _dropouts(HARNESS_OPS, True)
    # no kernel runs: timed back to back, what is measured is the CPU's work (a synchronize after each
    # call would be counted in `direct` and not in the ops between, and zero the per-op cost)
    t = {k: 1e6 * time_call(lambda m=m: m(x), cfg, sync="block") for k, m in
         (("direct", leaf), ("one", one), ("flat", flat), ("grouped", grouped))}
    per_op = max(0.0, (t["flat"] - t["one"]) / (HARNESS_OPS - 1) - t["direct"])
    return {"base_us": max(0.0, t["one"] - t["direct"] - per_op), "per_op_us": per_op,
            "per_group_us": max(0.0, (t["grouped"] - t["flat"]) / (2 * HARNESS_OPS)), "sync_us": sync_us(cfg)}


def check_finite(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ArchlibError(f"the calibration measured {name} = {value!r} on this host, which cannot be used; "
                           "run calibrate again (is the machine overloaded?).")
    return value
