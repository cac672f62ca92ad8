"""Command line: `python -m archlib list|knobs|summary|graph|measure|calibrate|predict ...`.

The model is a registered name, an ONNX file (`model.onnx`) or an uploaded one
(`onnx:<sha256>`). Knobs are given as `--NAME VALUE` (or `--NAME=VALUE`) after the model
and are validated by the model's knob schema; an ONNX file whose input size is dynamic
takes `--input C,H,W`. Bad input prints one line and exits 2.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from archlib import api, latency_cli
from archlib.core import registry
from archlib.core.analysis import Analysis, human, parse_level
from archlib.errors import ArchlibError
from archlib.hardware.latency.calibrate import DEFAULT_BUDGET_S


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: `error: ...` on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (usage: {self.prog} -h)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m archlib", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="registered models")
    ls.add_argument("--json", action="store_true")
    kn = sub.add_parser("knobs", help="a model's knobs: type, range, default, help")
    kn.add_argument("model")
    kn.add_argument("--json", action="store_true")
    sm = sub.add_parser("summary", help="per-layer table and totals (extra --KNOB VALUE pairs)")
    sm.add_argument("model", help="a registered model, an ONNX file or onnx:<sha256>")
    sm.add_argument("--json", action="store_true")
    sm.add_argument("--level", default="op", help="op (default), unit, block or stage")
    gr = sub.add_parser("graph", help="the block graph as DOT or SVG (extra --KNOB VALUE pairs)")
    gr.add_argument("model", help="a registered model, an ONNX file or onnx:<sha256>")
    gr.add_argument("--format", choices=("dot", "svg"), default="dot")
    gr.add_argument("--level", default="block", help="op, unit, block (default) or stage")
    gr.add_argument("--color-by", default="macs", help="macs, params, activations, elementwise or ms (predicted by "
                                                       "this host's latency model, 1 thread)")
    gr.add_argument("--expand", default="", help="groups drawn one level finer, comma-separated (e.g. s2.b1,s4)")
    gr.add_argument("-o", "--output", help="write to this file instead of standard output")
    me = sub.add_parser("measure", help="time it on this host and store the result (extra --KNOB/--SETTING VALUE "
                                        "pairs: settings are device, batch, threads, dtype, channels_last, "
                                        "min_run_time, max_seconds)")
    me.add_argument("model", help="a registered model, an ONNX file (kept among the uploads) or onnx:<sha256>")
    me.add_argument("--kind", choices=("latency", "train_step", "energy"), default="latency")
    me.add_argument("--json", action="store_true")
    for cmd in (sm, gr, me):
        cmd.add_argument("--input", metavar="C,H,W", help="the input size of an ONNX file whose input is dynamic")
    ca = sub.add_parser("calibrate", help="fit this host's per-op latency model (micro-benchmarks within a budget; "
                                          "resumable)")
    ca.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ca.add_argument("--threads", default="1", help="CPU threads (default 1; at most this host's usable CPUs)")
    ca.add_argument("--dtype", default="float32", help="float32 (default), bfloat16, or float16 (cuda)")
    ca.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    ca.add_argument("--budget-s", default=str(DEFAULT_BUDGET_S), help=f"seconds to spend measuring (default "
                                                                      f"{DEFAULT_BUDGET_S:g}; a rerun resumes)")
    ca.add_argument("--fresh", action="store_true", help="forget this host's samples for these settings first")
    ca.add_argument("--json", action="store_true")
    pr = sub.add_parser("predict", help="predicted latency on this host, per layer, without running the model (extra "
                                        "--KNOB VALUE pairs; settings: device, threads, dtype, channels_last, batch)")
    pr.add_argument("model", help="a registered model or onnx:<sha256> (an uploaded ONNX file)")
    pr.add_argument("--level", default="op", help="op (default), unit, block or stage")
    pr.add_argument("--input", metavar="C,H,W", help="the input size of an ONNX file whose input is dynamic")
    pr.add_argument("--json", action="store_true")
    return p


def parse_input(text: str | None) -> dict[str, tuple[int, ...]]:
    """`--input 3,224,224` -> {"input_shape": (3, 224, 224)} (digits and commas only)."""
    if text is None:
        return {}
    parts = text.replace("x", ",").split(",")
    if not (1 <= len(parts) <= 4 and all(re.fullmatch(r"[0-9]{1,6}", p.strip()) and int(p) >= 1 for p in parts)):
        raise ArchlibError(f"--input {text[:40]!r} is not allowed: give the per-sample input size as 1 to 4 "
                           "positive integers separated by commas, e.g. --input 3,224,224.")
    return {"input_shape": tuple(int(p) for p in parts)}


def parse_knob_args(extra: Sequence[str]) -> dict[str, str]:
    """`--name value` / `--name=value` pairs -> {name: value} (strings; the schema parses them)."""
    out: dict[str, str] = {}
    i = 0
    while i < len(extra):
        tok = extra[i]
        if not tok.startswith("--") or len(tok) < 3:
            raise ArchlibError(f"unexpected argument {tok!r}: knobs are given as --NAME VALUE.")
        if "=" in tok:
            name, value = tok[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(extra):
                raise ArchlibError(f"knob {tok} has no value: give it as {tok} VALUE.")
            name, value = tok[2:], extra[i + 1]
            i += 2
        out[name.replace("-", "_")] = value
    return out


def _cmd_list(args: argparse.Namespace) -> str:
    rows = [{"model": e.name, "family": e.family.name, "paper": e.family.paper,
             "description": e.description} for e in registry.entries()]
    if args.json:
        return json.dumps(rows, indent=2)
    width = max(len(r["model"]) for r in rows)
    return "\n".join(f"{r['model']:<{width}}  {r['family']:<16} {r['description']}" for r in rows)


def _cmd_knobs(args: argparse.Namespace) -> str:
    entry = registry.get(args.model)
    knobs, defaults = entry.knobs, entry.config()  # a stage table's default is the model's own table
    if args.json:
        return json.dumps([{"name": k.name, "type": k.kind, "default": defaults[k.name], "range": k.describe_range(),
                            "help": k.help} for k in knobs], indent=2)
    return "\n".join(f"--{k.name:<18} {k.describe_range():<36} default {defaults[k.name]!s:<8} {k.help}"
                     for k in knobs)


def format_table(a: Analysis, level: str = "op") -> str:
    """A torchinfo-like text table with human units, then the totals."""
    head = f"{'name':<34} {'op':<18} {'output':<16} {'params':>9} {'MACs':>9} {'acts':>9}"
    lines = [f"{a.model}  {a.config}", head, "-" * len(head)]
    if level == "op":
        items = [(r.name, r.op, r.out_shape, r.cost.params, r.cost.macs, r.cost.activations) for r in a.rows]
    else:
        items = [(k, "", "", v["params"], v["macs"], v["activations"]) for k, v in a.by_group(level)]
    for name, op, shape, params, macs, acts in items:
        shp = "x".join(map(str, shape))
        lines.append(f"{name[:34]:<34} {op:<18} {shp:<16} {human(params):>9} {human(macs):>9} {human(acts):>9}")
    t = a.totals()
    lines += ["-" * len(head),
              f"input {'x'.join(map(str, a.input_shape))}  output {'x'.join(map(str, a.output_shape))}",
              f"params      {t['params']:>16,}  ({human(t['params'])}; buffers {t['buffers']:,})",
              f"MACs        {t['macs']:>16,}  ({human(t['macs'])}; FLOPs = 2 x MACs = {human(t['flops'])})",
              f"activations {t['activations']:>16,}  (outputs of conv/linear/matmul)",
              f"elementwise {t['elementwise']:>16,}  (BN, activations, adds, pooling; not in MACs)"]
    lines += [f"note: {n}" for n in (*a.notes, *a.ir.notes)]
    return "\n".join(lines)


def _knobs(model: str, extra: Sequence[str]) -> dict[str, Any]:
    """The model's `--NAME VALUE` knobs, parsed from text by its schema (typed for the API)."""
    return registry.get(model).parse_text(parse_knob_args(extra))


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    try:
        if hasattr(args, "level"):  # a named level, or a depth in the digits 0-9 (`--level 2`)
            args.level = parse_level(args.level, text=True)
        if args.cmd in ("list", "knobs") and extra:
            raise ArchlibError(f"unexpected argument {extra[0]!r} for {args.cmd}.")
        if args.cmd == "list":
            out = _cmd_list(args)
        elif args.cmd == "knobs":
            out = _cmd_knobs(args)
        elif args.cmd == "measure":
            out = _cmd_measure(args, parse_knob_args(extra))
        elif args.cmd == "calibrate":
            out = latency_cli.cmd_calibrate(args, extra)
        elif args.cmd == "predict":
            out = latency_cli.cmd_predict(args, parse_knob_args(extra), parse_input(args.input))
        elif args.cmd == "summary":
            a = api.analyze(args.model, **{**_knobs(args.model, extra), **parse_input(args.input)})
            out = json.dumps(a.to_json()) if args.json else format_table(a, args.level)
        else:
            out = _cmd_graph(args, _knobs(args.model, extra))
    except _StoredElsewhere as e:
        sys.stdout.write(e.out + "\n")
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ArchlibError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.cmd != "calibrate":
            raise
        print("interrupted: the samples measured so far are kept; run calibrate again to resume.", file=sys.stderr)
        return 130
    if out is not None:
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


def _cmd_graph(args: argparse.Namespace, knobs: dict[str, Any]) -> str | None:
    from archlib.views.blockgraph import collapse, op_graph, render_svg, to_dot

    expand = [n.strip() for n in args.expand.split(",") if n.strip()]
    knobs = {**knobs, **parse_input(args.input)}
    if args.color_by == "ms":  # predicted by this host's latency model (1 thread), per op
        from archlib.hardware.latency import predict

        a = api.analyze(args.model, **knobs)
        g = op_graph(a, latency_ms=predict.predict(a, threads=1).by_name)
        g = g if args.level == "op" else collapse(g, args.level, expand=expand)
    else:
        g = api.graph(args.model, level=args.level, expand=expand, **knobs)
    if args.format == "dot":
        data = to_dot(g, color_by=args.color_by).encode()
    else:
        data = render_svg(g, color_by=args.color_by, legend=True)
    if args.output:
        _write(args.output, data)
        return None
    return data.decode()


def _write(path: str, data: bytes) -> None:
    """Write `data` to `path`; a path that cannot be written is one ArchlibError line."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise ArchlibError(f"cannot write the output file {path[:200]!r}: {e.strerror or type(e).__name__}; "
                           "give -o a writable file path.") from None


class _StoredElsewhere(ArchlibError):
    """A measurement ran but was kept outside the database: print it, then the error."""

    def __init__(self, message: str, out: str) -> None:
        super().__init__(message)
        self.out = out


class WaitingLine:
    """The lock's waiting message: on a terminal, one line rewritten in place; elsewhere
    (a log, a pipe) printed once, then at most every `every` seconds."""

    def __init__(self, stream: IO[str], *, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.every, self.clock = stream, every, clock
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._last: float | None = None

    def __call__(self, message: str) -> None:
        if self.tty:
            self.stream.write("\r" + message + "\x1b[K")
            self.stream.flush()
            self._last = 0.0
            return
        now = self.clock()
        if self._last is None or now - self._last >= self.every:
            self._last = now
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """End the rewritten line on a terminal, so what follows starts on its own line."""
        if self.tty and self._last is not None:
            self.stream.write("\n")
            self.stream.flush()


def _cmd_measure(args: argparse.Namespace, pairs: dict[str, str]) -> str:
    from archlib.hardware import measure, store

    names = {k.name for k in measure.SETTINGS}
    settings = measure.parse_settings({k: v for k, v in pairs.items() if k in names})
    model = args.model
    knobs = registry.get(model).parse_text({k: v for k, v in pairs.items() if k not in names})
    knobs |= parse_input(args.input)
    if model.lower().endswith(".onnx") and model not in registry.names():
        from archlib.importers.models import keep_file

        # measured as onnx:<sha256>, so the app shows it beside its upload; kept only once it lowers at this size
        model = keep_file(model, api.config(model, **knobs))
        print(f"{args.model} is kept as {model}", file=sys.stderr)
        args.model = model
    waiting = WaitingLine(sys.stderr)
    try:
        rec = store.record(args.kind, model, api.config(model, **knobs), on_wait=waiting, **settings)
    except store.NotStored as e:
        raise _StoredElsewhere(str(e), _measure_text(args, e.record)) from None
    finally:
        waiting.close()
    return _measure_text(args, rec)


def _measure_text(args: argparse.Namespace, rec: dict) -> str:
    if args.json:
        return json.dumps(rec, default=str)
    r, h, cfg = rec["result"], rec["host"], rec["settings"]
    where = f"{h['device'] if cfg['device'] == 'cuda' else h.get('cpu')}, {cfg['threads']} thread(s), torch {h.get('torch')}"
    if args.kind == "energy":
        return f"{args.model} energy on {where}: {r.get('status', '')} {json.dumps({k: v for k, v in r.items() if k != 'status'})}"
    peak = f"{r['peak_bytes'] / 1e6:.1f} MB measured" if r.get("peak_bytes") else "peak memory not measured"
    return (f"{args.model} {args.kind} on {where}, batch {cfg['batch']}, {cfg['dtype']}: "
            f"median {r['median_ms']:.3f} ms (IQR {r['iqr_ms']:.3f} ms, {r['runs']} runs); "
            f"{r['macs_per_ms'] / 1e6:.2f} GMACs/s; {peak} vs {r['analytic_bytes'] / 1e6:.1f} MB analytic")
