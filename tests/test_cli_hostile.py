"""The CLI under hostile arguments: every refusal is one `error: ...` line and exit 2, never a
traceback; numbers are ASCII digits; output files that cannot be written; the waiting line;
a broken results store; a measurement that could not be stored is printed and kept."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from broken_stores import BROKEN, make_broken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archlib
from archlib.cli import WaitingLine, main
from archlib.hardware import host as hostinfo
from archlib.hardware import store
from archlib.hardware.host import usable_cpus

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], db: Path | None = None, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)} | ({"ARCHLIB_DB": str(db)} if db else {})
    return subprocess.run([sys.executable, "-m", "archlib", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=kw.pop("cwd", ROOT), **kw)


def one_error_line(p: subprocess.CompletedProcess) -> str:
    """The single stderr line of a refused call (exit 2, no traceback)."""
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return lines[0]


@pytest.mark.parametrize("args, needle", [
    (["summary", "mobilenet_v2", "--level", "²"], "level='²' is not allowed (not written with the digits 0-9)"),
    (["graph", "mobilenet_v2", "--level", "²"], "level='²'"),
    (["summary", "mobilenet_v2", "--level", "١"], "digits 0-9"),
    (["summary", "mobilenet_v2", "--level", "1e3"], "digits 0-9"),
    (["summary", "mobilenet_v2", "--level", "9" * 5000], "(out of range)"),  # past int()'s 4300-digit limit
    (["summary", "mobilenet_v2", "--level", "0"], "a depth, an integer in [1, 32]"),
    (["summary", "mobilenet_v2", "--resolution", "1e3"], "resolution='1e3' is not allowed (not an integer: write it "
                                                         "with the digits 0-9)"),
    (["summary", "mobilenet_v2", "--resolution", "١٢٨"], "resolution='١٢٨'"),
    (["summary", "mobilenet_v2", "--resolution", "224.0"], "digits 0-9"),
    (["summary", "mobilenet_v2", "--width", "١.٥"], "width='١.٥'"),
    (["summary", "mobilenet_v2", "--width", "1_0"], "width='1_0'"),
])
def test_numbers_are_ascii_digits(args, needle):
    assert needle in one_error_line(run(args))


def test_ascii_numbers_still_work(capsys):
    assert main(["summary", "mobilenet_v2", "--resolution", "+160", "--width", "5e-1", "--level", "2"]) == 0
    out = capsys.readouterr().out
    assert "resolution': 160" in out and "'width': 0.5" in out


@pytest.mark.parametrize("where", ["missing_dir", "a_directory", "under_a_file", "proc"])
def test_unwritable_output_is_one_line(tmp_path, where):
    (tmp_path / "file").write_text("x")
    path = {"missing_dir": "/nonexistent/out.svg", "a_directory": str(tmp_path), "under_a_file":
            str(tmp_path / "file" / "out.svg"), "proc": "/proc/version"}[where]
    line = one_error_line(run(["graph", "lenet", "--format", "svg", "-o", path]))
    assert f"cannot write the output file {path!r}" in line and "give -o a writable file path" in line


def test_output_file_is_written(tmp_path):
    p = run(["graph", "lenet", "-o", str(tmp_path / "g.dot")])
    assert p.returncode == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")


@pytest.mark.parametrize("args, needle", [
    ([], "the following arguments are required: cmd"),
    (["grap"], "invalid choice: 'grap'"),
    (["summary"], "the following arguments are required: model"),
    (["graph", "lenet", "--format", "png"], "argument --format: invalid choice: 'png'"),
    (["measure", "lenet", "--kind", "speed"], "argument --kind: invalid choice: 'speed'"),
    (["list", "--json", "--json=3"], "ignored explicit argument"),
])
def test_argparse_errors_are_one_line(args, needle):
    line = one_error_line(run(args))
    assert needle in line and "-h" in line


@pytest.mark.parametrize("threads", ["0", str(usable_cpus() + 1), "256"])
def test_threads_beyond_this_hosts_cpus_are_refused(tmp_path, threads):
    line = one_error_line(run(["measure", "lenet", "--threads", threads], db=tmp_path / "m.sqlite"))
    assert f"threads must be an integer in [1, {usable_cpus()}]" in line and "usable CPUs" in line
    assert not (tmp_path / "m.sqlite").exists() or not store.Store(tmp_path / "m.sqlite").rows()


def test_waiting_line_is_throttled_when_not_a_terminal():
    now = [0.0]
    out = io.StringIO()
    wait = WaitingLine(out, every=10.0, clock=lambda: now[0])
    for i in range(25):  # the lock's poll: 4 calls a second for 6 s
        now[0] = i * 0.25
        wait(f"busy; waiting ({now[0]:.0f} s)")
    assert out.getvalue().splitlines() == ["busy; waiting (0 s)"]
    now[0] = 10.0
    wait("busy; waiting (10 s)")
    assert len(out.getvalue().splitlines()) == 2


def test_waiting_line_on_a_terminal_is_rewritten_in_place_and_ended():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    wait = WaitingLine(out)
    for i in range(3):
        wait(f"busy ({i} s)")
    wait.close()
    assert out.getvalue() == "\rbusy (0 s)\x1b[K\rbusy (1 s)\x1b[K\rbusy (2 s)\x1b[K\n"
    quiet = Tty()
    WaitingLine(quiet).close()  # never waited: nothing to end
    assert quiet.getvalue() == ""


def test_cli_prints_the_waiting_line_once_while_it_waits(tmp_path):
    db = tmp_path / "m.sqlite"
    store.Store(db)
    with hostinfo.HostLock(store.Store(db).lock_path, what="a long measurement"):
        proc = subprocess.Popen([sys.executable, "-m", "archlib", "measure", "lenet", "--min_run_time", "0.05"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "ARCHLIB_DB": str(db)})
        time.sleep(4)  # it polls four times a second meanwhile
    out, err = proc.communicate(timeout=120)
    busy = [line for line in err.splitlines() if "busy with a long measurement" in line]
    assert proc.returncode == 0 and len(busy) == 1, err
    assert "lenet latency" in out


@pytest.mark.parametrize("how", BROKEN)
def test_a_broken_store_is_refused_before_measuring(tmp_path, how):
    db = tmp_path / "m.sqlite"
    make_broken(db, how)
    t0 = time.monotonic()
    line = one_error_line(run(["measure", "lenet"], db=db))
    assert time.monotonic() - t0 < 30
    assert str(db) in line and "Move it aside" in line and f"mv {db} {db}.broken" in line
    assert "measur" in line  # what happens meanwhile: nothing is measured or stored


def test_a_measurement_that_cannot_be_stored_is_printed_and_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "m.sqlite"))

    def broken_put(self, *a, **k):
        raise sqlite3.OperationalError("database disk image is malformed")

    monkeypatch.setattr(store.Store, "put", broken_put)
    assert main(["measure", "lenet", "--min_run_time", "0.05"]) == 2
    out, err = capsys.readouterr()
    kept = tmp_path / "m.sqlite.unsaved.jsonl"
    assert "lenet latency on" in out and "median" in out
    assert err.count("\n") == 1 and "ran but could not be stored" in err and str(kept) in err
    (line,) = kept.read_text().splitlines()
    rec = json.loads(line)
    assert rec["model"] == "lenet" and rec["kind"] == "latency" and rec["result"]["median_ms"] > 0
    assert rec["config"] == archlib.config("lenet") and rec["settings"]["threads"] == 1


# -- fuzzing: the CLI's own arguments ------------------------------------------------------
VALUES = ["²", "١٢٨", "1e3", "224.0", "-1", "0", "1", "2", "999999999999", "nan", "inf", "", " ", "-", "--", "=",
          "op", "unit", "block", "stage", "galaxy", "macs", "params", "bogus", "svg", "dot", "png", "0.5", "5e-1",
          "/nonexistent/x.svg", ".", "..", "out.svg", "<script>", "$(id)", "a\nb", "é" * 30, "9" * 60]
FLAGS = ["--level", "--json", "--format", "-o", "--output", "--color-by", "--width", "--resolution", "--phi",
         "--threads", "--batch", "--kind", "--dtype", "--device", "--max_seconds", "--min_run_time", "-h", "--bogus",
         "--level=", "--width=0.5", "--resolution=١٢٨"]
TOKENS = st.one_of(st.sampled_from(VALUES + FLAGS + ["lenet", "mobilenet_v2", "vit_b_16", "no_such_model"]),
                   st.text(max_size=12))
GOOD = {"--level": ["op", "unit", "block", "stage", "1", "2"], "--format": ["dot", "svg"], "--width": ["0.5", "1"],
        "--resolution": ["64", "96"], "--threads": ["1"], "--batch": ["1", "2"], "--kind": ["latency", "energy",
        "train_step"], "--dtype": ["float32", "bfloat16"], "--color-by": ["macs", "params"], "-o": ["out.svg"],
        "--output": ["out.dot"], "--phi": ["1"], "--device": ["cpu"], "--max_seconds": ["30"],
        "--min_run_time": ["0.05"]}
MODELS = st.sampled_from(["lenet", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0", "vit_b_16", "lenet",
                          "no_such_model", "²", ""])
PAIR = st.sampled_from(FLAGS).flatmap(lambda f: st.tuples(st.just(f), st.one_of(st.sampled_from(GOOD.get(f, VALUES)),
                                                                                TOKENS)))
PAIRS = st.lists(st.one_of(PAIR, PAIR, PAIR, st.tuples(TOKENS)), max_size=4)
COMMANDS = st.sampled_from(["summary"] * 4 + ["graph"] * 3 + ["measure"] * 2 + ["knobs", "list", "bogus"])
CALLS = st.tuples(COMMANDS, MODELS, PAIRS).map(
    lambda t: [t[0], *([t[1]] if t[0] != "list" else []), *(tok for pair in t[2] for tok in pair)])
FUZZ_CALLS = 400
seen: list[list[str]] = []


def _fake_run(kind, model, knobs, cfg):  # the CLI's paths without timing anything
    return {"kind": kind, "median_ms": 1.0, "iqr_ms": 0.1, "runs": 10, "macs_per_ms": 1e6, "peak_bytes": None,
            "analytic_bytes": 1000, "status": "fake"}


@settings(max_examples=FUZZ_CALLS, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=CALLS)
def test_fuzz_cli_arguments_never_traceback(argv, tmp_path, monkeypatch):
    """Every call exits 0 (or help), or prints one `error: ...` line and exits 2."""
    monkeypatch.chdir(tmp_path)  # -o writes land here
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "m.sqlite"))
    monkeypatch.setattr(store, "_run", _fake_run)
    seen.append(argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: -h (0) or a usage error (2)
            code = e.code
    assert code in (0, 2), (argv, code, err.getvalue())
    if code == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err.getvalue())
