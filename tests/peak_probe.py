"""Run in a child process: the peak RSS of one forward (or of the cross-check's counters) of a
configuration, as JSON. `python tests/peak_probe.py forward|crosscheck MODEL 'KNOBS-JSON'`.

The same kernels run first on a 64 px copy of the configuration, so the code pages torch
touches on a first call are not counted; then the process's RSS high-water mark is reset
(/proc/self/clear_refs) and the delta over the forward is the peak its tensors took.
"""
from __future__ import annotations

import gc
import json
import sys


def _kb(field: str) -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) * 1024


def main() -> None:
    mode, model, knobs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    import torch

    import archlib
    from archlib.views.crosscheck import flopcounter_macs, fvcore_counts

    torch.set_num_threads(1)
    a = archlib.analyze(model, **knobs)
    small = archlib.analyze(model, **{**knobs, "resolution": 64})
    if mode == "forward":
        net = archlib.build(model, **knobs).eval()
        x = torch.zeros((1, *a.input_shape))
        with torch.inference_mode():
            archlib.build(model, **{**knobs, "resolution": 64}).eval()(torch.zeros((1, *small.input_shape)))
        run = lambda: net(x)  # noqa: E731
    else:
        flopcounter_macs(small.ir)
        fvcore_counts(small.ir)
        run = lambda: (flopcounter_macs(a.ir), fvcore_counts(a.ir))  # noqa: E731
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
        f.write("5")
    base = _kb("VmRSS")
    with torch.inference_mode():
        run()
    print(json.dumps({"peak": _kb("VmHWM") - base, **a.memory(batch=1)}))


if __name__ == "__main__":
    main()
