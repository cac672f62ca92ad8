"""Graphviz's `dot`, run bounded: a graph too costly to lay out is refused before dot starts,
and dot itself runs with a time limit, a memory cap and a few at once per process.

dot's time is dominated by its positioning step, a network simplex over boxes, arrows and
one extra node per row an arrow passes through: an arrow from row 3 to row 900 costs as
much as 897 boxes. `layout_size` counts that problem (ranks from a longest-path layering,
which gave exactly dot's own count on every graph measured); `too_large` refuses a graph
with more than `MAX_NODES` boxes or a problem over `MAX_LAYOUT`. The limits come from
benchmarks/bench_graph_layout.py: on a 2-core host, dot takes about 3 s at either limit on
real architectures (EfficientNet-B7's op level, 817 boxes, size 3,612: 0.35 s).
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading

import networkx as nx

from archlib.errors import ArchlibError

#: the most boxes a drawn graph may have (EfficientNetV2-L's 2,035-op graph: about 3 s in dot here)
MAX_NODES = 2500
#: the largest positioning problem laid out (boxes + arrows + 2 x the rows arrows pass through)
MAX_LAYOUT = 8000
#: seconds dot may run before it is stopped (a graph under the limits takes a tenth of it)
TIMEOUT_S = 30.0
#: bytes of address space dot may map (real graphs under the limits peak near 60 MB)
MEMORY_BYTES = 1 << 30
#: dot processes this process runs at once; the others wait for a free one (at most TIMEOUT_S)
JOBS = 2

_SLOTS = threading.BoundedSemaphore(JOBS)


class LayoutBusy(ArchlibError):
    """Every dot slot stayed taken while waiting: worth retrying later (never cached)."""


def layout_size(g: nx.DiGraph) -> tuple[int, int]:
    """(the rows arrows pass through without a box, the size of dot's positioning problem)."""
    order = list(nx.topological_sort(g)) if nx.is_directed_acyclic_graph(g) else list(g.nodes)
    rank: dict[str, int] = {}
    for v in order:
        rank[v] = max((rank[u] + 1 for u in g.predecessors(v) if u in rank), default=0)
    for v in reversed(order):  # a source (a constant, a parameter) sits just above its first consumer
        if g.in_degree(v) == 0 and g.out_degree(v):
            rank[v] = min(rank[s] for s in g.successors(v)) - 1
    bends = sum(abs(rank[v] - rank[u]) - 1 for u, v in g.edges if u != v)
    return bends, g.number_of_nodes() + g.number_of_edges() + 2 * bends


def too_large(g: nx.DiGraph, *, advice: str = "") -> str | None:
    """Why `g` will not be laid out (its size, the limit and what to do instead), or None.

    `advice` replaces the default suggestion (a coarser level, or fewer expanded groups).
    """
    n, e = g.number_of_nodes(), g.number_of_edges()
    level = g.graph.get("level", "op")
    what = f"The {level}-level graph" if isinstance(level, str) else f"The depth-{level} graph"
    expanded = len(g.graph.get("expand", ()))
    what += f" with {expanded} group{'s' if expanded != 1 else ''} expanded" if expanded else ""
    advice = advice or ("Collapse some expanded groups" if expanded else
                        "Choose a coarser level (unit, block or stage)" if level != "stage" else
                        "Its names share no prefixes to group by, so no coarser level is smaller")
    if n > MAX_NODES:
        return (f"{what} has {n:,} boxes; at most {MAX_NODES:,} are laid out (Graphviz's dot takes from "
                f"many seconds to minutes past that). {advice}.")
    if n <= 2:
        return None
    bends, size = layout_size(g)
    if size > MAX_LAYOUT:
        return (f"{what} has {n:,} boxes and {e:,} arrows, and the arrows pass {bends:,} rows without a box: "
                f"laying it out is a problem of size {size:,} (boxes + arrows + twice the rows passed), and at "
                f"most {MAX_LAYOUT:,} is laid out (Graphviz's dot takes from seconds to minutes past that). {advice}.")
    return None


def check(g: nx.DiGraph) -> None:
    """Raise ArchlibError when `g` is too large to lay out (see `too_large`)."""
    if (why := too_large(g)) is not None:
        raise ArchlibError(why)


def run_dot(dot: str, fmt: str, *, timeout: float = TIMEOUT_S, memory: int = MEMORY_BYTES) -> bytes:
    """Lay out DOT text with `dot -T<fmt>`: stopped after `timeout` s or past `memory` bytes."""
    if not _SLOTS.acquire(timeout=timeout):
        raise LayoutBusy(f"Graphviz's dot is busy laying out {JOBS} other graphs (waited {timeout:g} s): "
                         "try again in a moment.")
    try:
        return _run(dot.encode(), fmt, timeout, memory)
    finally:
        _SLOTS.release()


def _run(data: bytes, fmt: str, timeout: float, memory: int) -> bytes:
    try:
        # one malloc arena: a thread of dot's font code otherwise reserves 64 MB more address space when it
        # happens to allocate alongside the main one, and the cap would fail a small graph now and then
        proc = subprocess.Popen(["dot", f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "MALLOC_ARENA_MAX": "1"})
    except FileNotFoundError:
        raise ArchlibError("Graphviz's dot was not found: install Graphviz (apt-get install graphviz).") from None
    # set on the child by pid, not in a preexec_fn (unsafe in a threaded server): dot reads all of its input
    # before it lays anything out, so the caps are in place before any large allocation
    try:
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (memory, memory))
        cpu = int(timeout) + 5  # a dot orphaned by a crashed server still stops
        resource.prlimit(proc.pid, resource.RLIMIT_CPU, (cpu, cpu))
    except ProcessLookupError:  # it already exited: communicate() reports how
        pass
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ArchlibError(f"Graphviz's dot took longer than {timeout:g} s to lay out this graph and was stopped: "
                           "choose a coarser level or collapse expanded groups.") from None
    if proc.returncode == -signal.SIGXCPU:
        raise ArchlibError(f"Graphviz's dot used more than {timeout:g} s of CPU time laying out this graph and was "
                           "stopped: choose a coarser level or collapse expanded groups.")
    if proc.returncode != 0:
        first = err.decode(errors="replace").strip().splitlines()[:1]
        if proc.returncode < 0 or b"memory" in err.lower() or b"alloc" in err.lower():
            raise ArchlibError(f"Graphviz's dot stopped (exit {proc.returncode}) laying out this graph: it needs "
                               f"more than the {memory / 2**20:,.0f} MiB of memory it may use. Choose a coarser level or "
                               "collapse expanded groups.")
        raise ArchlibError(f"Graphviz's dot failed (exit {proc.returncode}): {first[0] if first else 'no message'}")
    return out
