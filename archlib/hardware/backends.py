"""Execution backends of a measurement: eager PyTorch, and torch.compile where it works here.

torch.compile (Inductor) turns the model into generated C++ (CPU) or Triton (CUDA) code on
its first call: about 21 s for mobilenet_v2 on the 2-core development host (16 s for LeNet and
42 s for ResNet-18 on the same host when it was busy). That first call is timed apart
(`compile_s`) and counted against the measurement's max_seconds, but it cannot be
interrupted: Dynamo and Inductor run in this thread and leave no point to stop at, and
abandoning them in another thread would leave the compile running. So max_seconds bounds it
only up front (a compiled measurement needs twice COMPILE_ESTIMATE_S: half to compile, half to
time), and a compile that takes longer anyway runs to its end, after which the measurement
stops with an error. The compiled module is kept per configuration (model, knobs, device,
dtype, memory format, batch), so measuring the same configuration again in this process times it.
"""
from __future__ import annotations

import os
import shutil
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from archlib.errors import ArchlibError

#: the first compiled call's time seen on the development host (DESIGN.md), for the up-front bound
COMPILE_ESTIMATE_S = 21.0
#: the least max_seconds of a compiled measurement: the compile may take half (measure._forward), timing the rest
MIN_COMPILE_SECONDS = 2 * COMPILE_ESTIMATE_S
#: compiled modules kept (each holds its model's weights)
CACHE_SIZE = 4
_CACHE: OrderedDict[Hashable, Any] = OrderedDict()


def compile_status(device: str = "cpu") -> tuple[bool, str]:
    """(whether torch.compile can run on `device` here, a sentence saying why or why not)."""
    import torch

    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile; use backend=eager."
    try:
        from torch._dynamo.eval_frame import is_dynamo_supported

        if not is_dynamo_supported():
            return False, "torch.compile (TorchDynamo) does not support this Python; use backend=eager."
    except ImportError:
        return False, "torch.compile (TorchDynamo) is not importable here; use backend=eager."
    if device == "cuda":
        try:
            import triton  # noqa: F401  (Inductor's CUDA code generator)
        except ImportError:
            return False, "torch.compile on CUDA needs Triton, which is not installed; use backend=eager."
        return True, "torch.compile (Inductor, Triton kernels) on this GPU."
    cxx = next((c for c in (os.environ.get("CXX"), "g++", "c++", "clang++") if c and shutil.which(c)), None)
    if cxx is None:
        return False, ("torch.compile on the CPU needs a C++ compiler (g++, c++ or clang++, or $CXX), and this "
                       "host has none; use backend=eager.")
    return True, f"torch.compile (Inductor, C++ built with {cxx}) on this CPU."


def check_compile(cfg: dict[str, Any], *, training: bool = False) -> None:
    """Refuse a compiled measurement that cannot work or cannot fit its time bound, before building."""
    if cfg.get("backend", "eager") != "compile":
        return
    if training:
        raise ArchlibError("backend='compile' is not allowed for a training step: compiled measurements are "
                           "of inference latency; use backend=eager.")
    ok, why = compile_status(cfg["device"])
    if not ok:
        raise ArchlibError(why)
    if cfg["max_seconds"] < MIN_COMPILE_SECONDS:
        raise ArchlibError(f"max_seconds={cfg['max_seconds']:g} is too short for backend='compile': the first call "
                           f"compiles (about {COMPILE_ESTIMATE_S:.0f} s for mobilenet_v2 here, and it cannot be "
                           f"interrupted), which may use half of max_seconds, and the other half times it; "
                           f"max_seconds must be at least {MIN_COMPILE_SECONDS:.0f}.")


def compiled(key: Hashable, build: Callable[[], Any], first_call: Callable[[Any], Any]) -> tuple[Any, float | None]:
    """The compiled module for `key` (built by `build`, compiled, and called once by
    `first_call`), and the seconds that first call took (None when it came from the cache)."""
    import torch

    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key], None
    module = torch.compile(build())
    t0 = time.perf_counter()
    try:
        first_call(module)
    except Exception as e:  # noqa: BLE001  (Dynamo/Inductor raise many types; all mean "does not compile here")
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ArchlibError(f"torch.compile failed on this host: {msg}; use backend=eager.") from e
    took = time.perf_counter() - t0
    _CACHE[key] = module
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return module, took


def clear_cache() -> None:
    """Forget every compiled module (frees their weights)."""
    _CACHE.clear()
