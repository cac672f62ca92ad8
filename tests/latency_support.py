"""A hand-made latency model for tests: known weights, no calibration run."""
from __future__ import annotations

from archlib.hardware.latency import calibrate
from archlib.hardware.latency.latmodel import CLASSES, ClassFit, LatencyModel

#: µs per unit of each feature (a plausible CPU: 50 GFLOP/s, 10 GB/s, a few µs per call)
WEIGHTS = {"one": 5.0, "flops": 2e-5, "flops_pad": 0.0, "act_bytes": 1e-4, "w_bytes": 1e-4, "far_bytes": 5e-5, "big_bytes": 1e-3,
           "scratch_bytes": 1e-4, "window_bytes": 5e-5}


def synthetic_model(threads: int = 1, **settings: object) -> LatencyModel:
    """A model of this host with fixed, non-negative weights (what a calibration would store)."""
    cfg = calibrate.model_settings(threads=threads, **settings)
    host, hid = calibrate.this_host(cfg)
    classes = {c: ClassFit(f, tuple(WEIGHTS[n] for n in f), 10, 0.05, 0.1) for c, f in CLASSES.items()}
    return LatencyModel(host, hid, cfg, classes, {"base_us": 3.0, "per_op_us": 1.0, "per_group_us": 0.5},
                        {"matmul_flops": 8e10, "conv_flops": 1e11, "bandwidth": 2e10, "cache_bandwidth": 1e11},
                        {"samples": 123, "planned": 700, "complete": False, "created": 0.0, "wall_s": 1.0,
                         "budget_s": 2.0})
