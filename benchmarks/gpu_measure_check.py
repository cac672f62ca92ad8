"""The CUDA paths of archlib.hardware.measure on a GPU host: synchronised latency, a training step's
peak memory against the analytic estimate, NVML energy, the per-layer profile, the store.

Usage (on a machine with an NVIDIA GPU): PYTHONPATH=. python benchmarks/gpu_measure_check.py [OUT.json]
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

from archlib.hardware import host as hostinfo
from archlib.hardware import measure, opprofile, power, store


def main() -> None:
    out: dict = {"host": hostinfo.host_info("cuda"), "power": power.status("cuda")}
    print(out)
    lat = {}
    for label, given in {"fp32 b1": {}, "fp16 b1": {"dtype": "float16"}, "fp16 b1 channels_last":
                         {"dtype": "float16", "channels_last": True}, "fp32 b64": {"batch": 64},
                         "bf16 b64 channels_last": {"dtype": "bfloat16", "batch": 64, "channels_last": True}}.items():
        t = measure.measure_latency("mobilenet_v2", device="cuda", min_run_time=0.5, **given)
        lat[label] = {k: t.as_dict()[k] for k in ("median_ms", "iqr_ms", "runs", "peak_bytes", "analytic_bytes")}
        print("latency", label, lat[label])
    out["latency"] = lat
    tr = measure.measure_training("mobilenet_v2", device="cuda", batch=32, min_run_time=0.5)
    out["train_step_b32"] = tr.as_dict()
    print("train step b32", tr.median_ms, "ms; peak", tr.peak_bytes, "analytic", tr.analytic_bytes)
    energy, why = measure.measure_energy("mobilenet_v2", device="cuda", batch=64, seconds=2.0)
    out["energy_b64"] = {"status": why, **(energy.as_dict() if energy else {})}
    print("energy", out["energy_b64"])
    prof = opprofile.profile("mobilenet_v2", device="cuda", runs=5)
    out["profile_classes"] = prof.by_class()
    for c in prof.by_class():
        print("profile", c)
    with tempfile.TemporaryDirectory() as d:
        s = store.Store(os.path.join(d, "m.sqlite"))
        rec = store.record("latency", "resnet50", store=s, device="cuda", min_run_time=0.3)
        out["store"] = {"hosts": s.hosts(), "median_ms": rec["result"]["median_ms"]}
        print("store", out["store"])
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump(out, f, indent=1, default=str)


if __name__ == "__main__":
    main()
