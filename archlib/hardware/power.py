"""Power and energy per inference, where the host exposes a reading.

NVML (via pynvml, only if it is importable) on an NVIDIA GPU: the board's energy counter
(or its power reading, averaged over the run where the counter is missing). Intel/AMD
RAPL on the CPU: the package energy counters under /sys/class/powercap, when readable.
Anywhere else this says plainly that the host exposes no power reading, and why.
"""
from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

RAPL_GLOB = "/sys/class/powercap/intel-rapl:*/energy_uj"


@dataclass
class Energy:
    """Energy of a run of inferences, as one source read it."""

    source: str  # "NVML (GPU board)" | "RAPL (CPU packages)"
    joules: float
    seconds: float
    inferences: int

    @property
    def watts(self) -> float:
        return self.joules / self.seconds if self.seconds > 0 else float("nan")

    @property
    def mj_per_inference(self) -> float:
        return 1e3 * self.joules / self.inferences if self.inferences else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"watts": self.watts, "mj_per_inference": self.mj_per_inference}


def rapl_files() -> list[str]:
    """Readable package-level RAPL energy counters (sub-domains such as :0:0 excluded)."""
    out = []
    for path in sorted(glob.glob(RAPL_GLOB)):
        domain = os.path.basename(os.path.dirname(path))
        if domain.count(":") == 1 and os.access(path, os.R_OK):
            try:
                int(open(path, encoding="ascii").read())
            except (OSError, ValueError):
                continue
            out.append(path)
    return out


def _nvml():
    try:
        import pynvml  # optional: not a requirement of archlib
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        return pynvml
    except Exception:  # noqa: BLE001  (NVML raises its own error types; any failure means "none")
        return None


def status(device: str) -> tuple[bool, str]:
    """(can read power?, a sentence saying which source or why none)."""
    if device == "cuda":
        nv = _nvml()
        if nv is not None:
            return True, "GPU board energy from NVML (pynvml)."
        why = "pynvml is not installed" if not _has_module("pynvml") else "NVML did not initialise"
        gpu_note = f"{why}, so the GPU's power cannot be read"
    else:
        gpu_note = "no GPU is measured"
    if rapl_files():
        return True, "CPU package energy from RAPL (/sys/class/powercap)."
    if not os.path.isdir("/sys/class/powercap"):
        rapl_note = "there is no /sys/class/powercap (no RAPL interface)"
    elif not glob.glob(RAPL_GLOB):
        rapl_note = "/sys/class/powercap has no intel-rapl energy counter"
    else:
        rapl_note = "the RAPL energy counters under /sys/class/powercap are not readable by this user"
    return False, f"This host exposes no power reading: {gpu_note}, and {rapl_note}."


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _rapl_read() -> list[tuple[int, int]]:
    out = []
    for path in rapl_files():
        top = os.path.join(os.path.dirname(path), "max_energy_range_uj")
        try:
            wrap = int(open(top, encoding="ascii").read())
        except (OSError, ValueError):
            wrap = 2**32
        out.append((int(open(path, encoding="ascii").read()), wrap))
    return out


def _run_for(fn: Callable[[], Any], seconds: float) -> tuple[int, float]:
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n, time.perf_counter() - t0


def measure(fn: Callable[[], Any], device: str, *, seconds: float = 1.0, batch: int = 1) -> Energy | None:
    """Energy while `fn` (one synchronised forward pass of `batch` images) runs for `seconds`;
    None where the host exposes no reading (see `status`)."""
    if device == "cuda":
        nv = _nvml()
        if nv is not None:
            return _measure_nvml(nv, fn, seconds, batch)
    if not rapl_files():
        return None
    before = _rapl_read()
    n, dt = _run_for(fn, seconds)
    after = _rapl_read()
    joules = sum(((b - a) % w) for (a, w), (b, _) in zip(before, after)) / 1e6
    return Energy("RAPL (CPU packages)", joules, dt, n * batch)


def _measure_nvml(nv: Any, fn: Callable[[], Any], seconds: float, batch: int) -> Energy:
    import torch

    handle = nv.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
    try:
        e0 = nv.nvmlDeviceGetTotalEnergyConsumption(handle)  # millijoules since driver load
        n, dt = _run_for(fn, seconds)
        joules = (nv.nvmlDeviceGetTotalEnergyConsumption(handle) - e0) / 1e3
        return Energy("NVML (GPU board energy counter)", joules, dt, n * batch)
    except Exception:  # noqa: BLE001  (older GPUs: no energy counter; sample the power instead)
        p0 = nv.nvmlDeviceGetPowerUsage(handle)
        n, dt = _run_for(fn, seconds)
        watts = (p0 + nv.nvmlDeviceGetPowerUsage(handle)) / 2e3
        return Energy("NVML (GPU board power, sampled)", watts * dt, dt, n * batch)
