"""How well FAVOR+ approximates softmax attention, and how fast both run here.

Real computation (torch, float64 for the error studies): the random-feature estimate of
the softmax kernel SM(x, y) = exp(x . y), the relative error of FAVOR+ attention against
exact softmax attention over seeds, on random inputs or on a built ViT's own q, k, v,
and measured latency of the two attention modules with torch.utils.benchmark.
"""
from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from archlib.core.attention import ATTENTIONS, FEATURE_KINDS, attention_op
from archlib.core.cost import extra_memory, op_cost
from archlib.core.knobs import Knob
from archlib.errors import ArchlibError
from archlib.views.attention_torch import (
    FavorAttention,
    SoftmaxAttention,
    favor,
    gaussian_features,
    softmax_attention,
)

#: the largest score matrix (heads x tokens^2 elements) a latency or error run may allocate
MAX_SCORE_ELEMS = 1 << 25
_THREADS = threading.RLock()
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread meanwhile: these small matmuls ran 10-100x slower on a busy 2-core
    host with more (spinning) threads than free cores. Serialised, so the count is restored."""
    with _THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def _single_threaded(fn: F) -> F:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _one_thread():
            return fn(*args, **kwargs)
    return run  # type: ignore[return-value]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def relative_error(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor,
                   exact: torch.Tensor | None = None) -> float:
    """||FAVOR+(q, k, v) - softmax attention(q, k, v)||_F / ||softmax attention||_F (`exact`:
    the softmax attention, when already computed)."""
    exact = softmax_attention(q, k, v) if exact is None else exact
    return float((favor(q, k, v, w) - exact).norm() / exact.norm())


def error_point_cost(tokens: int, head_dim: int, *, heads: int = 1, features: int, seeds: int,
                     feature_kind: str = "orthogonal") -> tuple[int, int]:
    """(MACs, peak bytes) of one approximation_error on float64 (heads, tokens, head_dim) inputs:
    the exact attention once (2 H L^2 d), then per seed a feature draw (orthogonal: a QR of
    ceil(m/d) d x d blocks, about 2/3 d^3 MACs each) and FAVOR+ (H (4 L m d + L m))."""
    n, d, h, m = tokens, head_dim, heads, features
    draw = math.ceil(m / d) * 2 * d ** 3 // 3 if feature_kind == "orthogonal" else 0
    macs = 2 * h * n * n * d + seeds * (draw + h * (4 * n * m * d + n * m))
    elems = 4 * h * n * d + max(2 * h * n * n, 4 * h * n * m) + 2 * h * n * d + m * d
    return macs, 8 * elems


@dataclass(frozen=True)
class ErrorStat:
    """Relative error of FAVOR+ over seeds at one number of features and feature kind."""

    features: int
    feature_kind: str
    mean: float
    std: float
    errors: tuple[float, ...]


@_single_threaded
def approximation_error(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, features: int,
                        feature_kind: str = "orthogonal", seeds: Sequence[int] = range(8)) -> ErrorStat:
    """Mean and spread (sample std) of the relative error over one feature draw per seed.

    Admitted by this process's heavy-work gate (archlib.hardware.gate) for its planned bytes."""
    from archlib.hardware.gate import admit

    _check_sizes(q.shape[-2], q.shape[:-2].numel(), features)
    seeds = list(seeds)
    _, need = error_point_cost(q.shape[-2], q.shape[-1], heads=q.shape[:-2].numel(), features=features,
                               seeds=len(seeds), feature_kind=feature_kind)
    errs = []
    with admit(need, f"the FAVOR+ error study at m = {features}"):
        exact = softmax_attention(q, k, v)
        for s in seeds:
            w = gaussian_features(features, q.shape[-1], feature_kind, generator=_generator(s), dtype=q.dtype)
            errs.append(relative_error(q, k, v, w, exact))
    t = torch.tensor(errs, dtype=torch.float64)
    std = float(t.std()) if len(errs) > 1 else 0.0
    return ErrorStat(features, feature_kind, float(t.mean()), std, tuple(errs))


@_single_threaded
def error_curve(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, features: Sequence[int],
                kinds: Sequence[str] = FEATURE_KINDS, seeds: Sequence[int] = range(8)) -> list[ErrorStat]:
    """approximation_error at every m in `features`, for each feature kind."""
    return [approximation_error(q, k, v, features=m, feature_kind=kind, seeds=seeds)
            for kind in kinds for m in features]


def random_qkv(tokens: int, head_dim: int, *, heads: int = 1, scale: float = 1.0,
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v of shape (heads, tokens, head_dim), entries N(0, scale^2) (v: N(0, 1)), float64."""
    _check_sizes(tokens, heads, 1, dim=head_dim)
    g = _generator(seed)
    q, k, v = torch.randn(3, heads, tokens, head_dim, generator=g, dtype=torch.float64)
    return q * scale, k * scale, v


@_single_threaded
def vit_qkv(model: str = "deit_tiny_patch16_224", *, block: int = 1, seed: int = 0,
            **knobs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The q, k, v (heads, tokens, head_dim) a built ViT computes in `block` on a random image.

    The model is freshly initialised (torch's default initialisation, seeded), softmax
    attention, float64 results.
    """
    import archlib
    from archlib.hardware.gate import admit

    cfg = archlib.config(model, **knobs)
    if not 1 <= block <= cfg["blocks"]:
        raise ArchlibError(f"block={block} is not allowed: block must be in [1, {cfg['blocks']}] for {model}.")
    mem = archlib.analyze(model, **knobs).memory()
    out: dict[str, torch.Tensor] = {}
    with admit(mem["inference_total"], f"building {model} for its q, k, v"):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            net = archlib.build(model, **knobs).eval()
            image = torch.randn(1, 3, cfg["resolution"], cfg["resolution"])
        layer = net.get_submodule(f"s1.b{block}.qkv")
        handle = layer.register_forward_hook(lambda _m, _i, y: out.setdefault("qkv", y.detach()))
        try:
            with torch.inference_mode():
                net(image)
        finally:
            handle.remove()
    heads = cfg["heads"]
    _, tokens, three_d = out["qkv"].shape
    q, k, v = out["qkv"][0].double().reshape(tokens, 3, heads, three_d // (3 * heads)).permute(1, 2, 0, 3)
    return q, k, v


@dataclass(frozen=True)
class Latency:
    """A measured forward time of one attention module (batch 1 unless said)."""

    attention: str
    tokens: int
    median_ms: float
    iqr_ms: float
    threads: int


def measure_latency(attention: str, tokens: int, *, dim: int, heads: int, features: int, batch: int = 1,
                    threads: int = 1, min_run_time: float = 0.2, lock_timeout: float = 60.0) -> Latency:
    """Median and IQR of the attention module's forward on random q|k|v, under inference_mode.

    Under this host's measurement lock (archlib.hardware.store), with `threads` threads (1 by
    default: stable on a shared host, as archlib.hardware.measure).
    """
    from torch.utils import benchmark

    from archlib.hardware.gate import admit
    from archlib.hardware.host import HostLock, usable_cpus
    from archlib.hardware.store import db_path

    if attention not in ATTENTIONS:
        raise ArchlibError(f"attention={attention!r} is not allowed: attention must be one of {', '.join(ATTENTIONS)}.")
    _check_sizes(tokens, heads, features, dim=dim, batch=batch)
    cores = usable_cpus()
    if not (isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= cores):
        raise ArchlibError(f"threads={threads!r} is not allowed: threads must be an integer in [1, {cores}] "
                           "(this host's usable CPUs).")
    op = attention_op(attention, tokens, dim=dim, heads=heads, features=features)
    work, _ = extra_memory(op, op_cost(op))
    need = 4 * (batch * (4 * tokens * dim + work) + op_cost(op).buffers)  # q|k|v, the output, working memory
    lock = db_path().with_name(db_path().name + ".lock")
    what = f"timing {attention} attention at {tokens} tokens"
    with HostLock(lock, what=what, timeout=lock_timeout), admit(need, what), torch.inference_mode():
        mod = SoftmaxAttention(dim, heads) if attention == "softmax" else FavorAttention(dim, heads, features)
        x = torch.randn(batch, tokens, 3 * dim)
        timer = benchmark.Timer("mod(x)", globals={"mod": mod.eval(), "x": x}, num_threads=threads)
        m = timer.blocked_autorange(min_run_time=min_run_time)
    return Latency(attention, tokens, m.median * 1e3, m.iqr * 1e3, threads)


def host(threads: int = 1) -> str:
    """The host the measurements ran on, in words."""
    from archlib.hardware.host import cpu_model

    return f"{cpu_model()}, {threads} thread{'s' * (threads != 1)}, torch {torch.__version__}"


def _check_sizes(tokens: int, heads: int, features: int, *, dim: int = 1, batch: int = 1) -> None:
    """Refuse, before anything is allocated, sizes whose scores or inputs would not fit here."""
    for name, v in (("tokens", tokens), ("heads", heads), ("dim", dim), ("features", features), ("batch", batch)):
        Knob(name, "int", 1, name, lo=1, hi=4096 if name == "features" else MAX_SCORE_ELEMS).parse(v)
    heads *= batch  # the score matrices of every sample
    if heads * tokens * 3 * dim > MAX_SCORE_ELEMS:
        raise ArchlibError(f"dim={dim} is too large here with {tokens} tokens and {heads} heads: heads x tokens x "
                           f"3 dim must be at most {MAX_SCORE_ELEMS:,} (dim <= {MAX_SCORE_ELEMS // (3 * heads * tokens)}).")
    if heads * tokens * tokens > MAX_SCORE_ELEMS:
        raise ArchlibError(f"tokens={tokens} is too large here with {heads} heads: heads x tokens^2 must be at "
                           f"most {MAX_SCORE_ELEMS:,} (tokens <= {math.isqrt(MAX_SCORE_ELEMS // heads)}).")
