"""How long Graphviz's dot takes, and how much memory it takes, to lay out graphs of growing size:
the figures behind archlib.views.graphdot's MAX_NODES and MAX_LAYOUT.

Real architectures (EfficientNet and EfficientNetV2 at growing depth, ResNet-152, ViT with 48
blocks), op and unit level, and imported ONNX graphs whose node names have no scopes (every op
its own stage): a plain chain and chains with random skip connections (h[i] = h[i-1] + h[j]),
the worst case for dot's positioning. Each graph: boxes, arrows, the positioning problem's size
(graphdot.layout_size), whether the limits refuse it, dot's wall time (median of --runs) and peak
memory. A refused graph is still laid out (stopped after --cap seconds) to show why,
unless its size is over 4 x MAX_LAYOUT.

    python benchmarks/bench_graph_layout.py [--runs 3] [--cap 60]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import networkx as nx

import archlib
from archlib.views import graphdot
from archlib.views.blockgraph import collapse, op_graph, to_dot


def dot_once(dot: bytes, cap: float) -> tuple[float, float]:
    """(seconds, peak MB) of one `dot -Tsvg` run (GNU time reads the peak); inf seconds past `cap`."""
    t = time.perf_counter()
    try:
        r = subprocess.run(["/usr/bin/time", "-f", "%M", "dot", "-Tsvg"], input=dot, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return float("inf"), float("nan")
    return time.perf_counter() - t, int(r.stderr.split()[-1]) / 1024


def skip_chain(n: int, skips: bool, folder: Path, seed: int = 0) -> Path:
    """An ONNX file of n ops named n0, n1, ... (no scopes): Relu, then Add(h[i-1], h[j]) (j random) or Relu."""
    import onnx
    from onnx import TensorProto, helper

    rng = random.Random(seed)
    nodes = [helper.make_node("Relu", ["x"], ["h0"], name="n0")]
    for i in range(1, n):
        out = f"h{i}" if i < n - 1 else "y"
        ins = [f"h{i - 1}", f"h{rng.randrange(i)}"] if skips else [f"h{i - 1}"]
        nodes.append(helper.make_node("Add" if skips else "Relu", ins, [out], name=f"n{i}"))
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])])
    path = folder / f"{'skip' if skips else 'chain'}{n}.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)], ir_version=10), path)
    return path


def graphs(folder: Path) -> Iterator[tuple[str, Callable[[], nx.DiGraph]]]:
    for model, depth in [("efficientnet_b7", 2.0), ("efficientnet_b7", 3.1), ("efficientnet_b7", 4.0),
                         ("efficientnet_b7", 6.0), ("efficientnet_v2_l", 2.0), ("efficientnet_v2_l", 3.0)]:
        yield f"{model} depth={depth} op", lambda m=model, d=depth: op_graph(archlib.analyze(m, depth=d))
    yield "resnet152 op", lambda: op_graph(archlib.analyze("resnet152"))
    yield "vit_b_16 blocks=48 op", lambda: op_graph(archlib.analyze("vit_b_16", blocks=48))
    yield "efficientnet_v2_l depth=4.0 unit", lambda: collapse(op_graph(archlib.analyze("efficientnet_v2_l",
                                                                                          depth=4.0)), "unit")
    for n in (500, 2400):
        yield f"ONNX chain of {n}, block", lambda n=n: collapse(op_graph(archlib.analyze(
            str(skip_chain(n, False, folder)))), "block")
    for n in (50, 100, 150, 200, 2400):
        yield f"ONNX skips of {n}, block", lambda n=n: collapse(op_graph(archlib.analyze(
            str(skip_chain(n, True, folder)))), "block")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="dot runs per graph (median); 1 past 5 s")
    ap.add_argument("--cap", type=float, default=60.0, help="seconds after which a run is stopped")
    args = ap.parse_args()
    print(f"limits: MAX_NODES={graphdot.MAX_NODES:,} MAX_LAYOUT={graphdot.MAX_LAYOUT:,}; {os.cpu_count()} CPUs")
    print(f"{'graph':36s} {'boxes':>6s} {'arrows':>6s} {'size':>7s} {'refused':>7s} {'dot s':>7s} {'peak MB':>7s}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, build in graphs(Path(tmp)):
            g = build()
            _, size = graphdot.layout_size(g)
            refused = graphdot.too_large(g) is not None
            if size > 4 * graphdot.MAX_LAYOUT:  # minutes and gigabytes (the 2,400-op skip chain: > 290 s, 9 GB)
                print(f"{label:36s} {len(g):6,d} {g.number_of_edges():6,d} {size:7,d} {'yes':>7s} {'not run':>7s}")
                continue
            dot = to_dot(g).encode()
            times, peak = [], 0.0
            for _ in range(args.runs):
                s, mb = dot_once(dot, args.cap)
                times.append(s)
                peak = max(peak, mb)
                if s > 5:
                    break
            med = statistics.median(times)
            shown = f">{args.cap:g}" if med == float("inf") else f"{med:.2f}"
            print(f"{label:36s} {len(g):6,d} {g.number_of_edges():6,d} {size:7,d} {'yes' if refused else 'no':>7s} "
                  f"{shown:>7s} {peak:7.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
