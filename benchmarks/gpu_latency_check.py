"""The latency model on a GPU host: calibrate on CUDA, then predicted vs measured, side by side.

Calibrates this host's CUDA model (archlib.hardware.latency.calibrate with device=cuda: the same plan)
twice, into fresh stores: op timings with a synchronize after every call (CUDA_SYNC "call", the default;
predicted with that synchronize taken out of each layer's launch, and as the previous version did, with it
kept) and launched back to back with one synchronize per block ("block"). Then measures
(archlib.hardware.measure, CUDA-synchronised) a spread of registered models at batch 1 and 32 and
prints each variant's prediction and error side by side, and how long a prediction takes.

Usage (on a machine with an NVIDIA GPU): PYTHONPATH=. python benchmarks/gpu_latency_check.py [OUT_DIR]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

MODELS = ("mobilenet_v3_small", "mobilenet_v2", "efficientnet_b0", "regnet_y_1_6gf", "resnet50", "efficientnet_b4",
          "vit_b_16", "regnet_y_16gf", "efficientnet_b7")
BATCHES = (1, 32)
#: how the calibration's op timings synchronise (archlib.hardware.latency.microbench.CUDA_SYNC): both, side by side
MODES = tuple(os.environ.get("MODES", "call,block").split(","))


def _calibrate(out_dir: str, mode: str):
    """A CUDA calibration with op timings synchronised per `mode` (microbench.CUDA_SYNC), in its own store."""
    from archlib.hardware.latency import calibrate, microbench
    from archlib.hardware.store import Store

    microbench.CUDA_SYNC = mode
    store = Store(os.path.join(out_dir, f"results_{mode}.sqlite"))
    t0 = time.perf_counter()
    model = calibrate.calibrate(budget_s=float(os.environ.get("BUDGET_S", "180")), store=store, device="cuda",
                                on_progress=lambda p: p.done % 300 == 0 and print(f"  {p.done}/{p.total} "
                                                                                  f"{p.elapsed_s:.0f} s", flush=True))
    print(f"[{mode}] calibrated in {time.perf_counter() - t0:.0f} s: {model.info['samples']} samples, "
          f"{len(model.classes)} classes, complete {model.info['complete']}; peaks {model.peaks}; "
          f"harness {model.harness}", flush=True)
    return model


def main() -> int:
    import dataclasses

    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    import torch

    import archlib
    from archlib.errors import ArchlibError
    from archlib.hardware import measure
    from archlib.hardware.latency import predict

    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}", flush=True)
    models = {mode: _calibrate(out_dir, mode) for mode in MODES}
    # the "call" calibration as the previous version predicted it: its synchronizes counted in the launches
    call = models.get("call")
    if call is not None:
        models["call, sync kept"] = dataclasses.replace(call, harness=call.harness | {"sync_us": 0.0})
    rows = []
    for batch in BATCHES:
        for name in MODELS:
            a = archlib.analyze(name)
            try:
                m = measure.measure_latency(name, device="cuda", batch=batch, min_run_time=0.5)
            except ArchlibError as e:
                print(f"  {name} batch {batch}: not measured: {e}", flush=True)
                continue
            row = {"model": name, "batch": batch, "measured_ms": m.median_ms, "iqr_ms": m.iqr_ms, "variants": {}}
            for label, model in models.items():
                t = time.perf_counter()
                p = predict.predict_analysis(a, model, batch=batch)
                row["variants"][label] = {"predicted_ms": p.latency_ms, "error": p.latency_ms / m.median_ms - 1,
                                          "predict_ms": 1e3 * (time.perf_counter() - t)}
            rows.append(row)
            print(f"  {name:20s} b{batch:<3d} measured {m.median_ms:8.3f} ms (IQR {m.iqr_ms:.3f}); predicted "
                  + "; ".join(f"{k} {v['predicted_ms']:8.3f} ({v['error']:+.1%})" for k, v in row["variants"].items()),
                  flush=True)
    for label in models:
        for batch in (*BATCHES, None):
            errs = [abs(r["variants"][label]["error"]) for r in rows if batch in (None, r["batch"])]
            if errs:
                print(f"[{label}] {'all' if batch is None else f'batch {batch}'}: within ±10%: "
                      f"{sum(e <= 0.1 for e in errs)}/{len(errs)} · within ±20%: {sum(e <= 0.2 for e in errs)}/"
                      f"{len(errs)} · median |error| {statistics.median(errs):.1%}")
    with open(os.path.join(out_dir, "gpu_latency_check.json"), "w", encoding="utf-8") as f:
        json.dump({"rows": rows, "models": {k: m.to_json() for k, m in models.items()}}, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
