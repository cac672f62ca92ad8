"""The CLI: list, knobs, summary (text and JSON), graph; bad input exits 2 with one line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import archlib
from archlib.cli import main


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archlib", *args], capture_output=True, text=True, timeout=120)


def test_list_json_names_every_model(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == archlib.list_models()


def test_summary_json_matches_analyze(capsys):
    assert main(["summary", "mobilenet_v2", "--width", "0.5", "--resolution=160", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    a = archlib.analyze("mobilenet_v2", width=0.5, resolution=160)
    assert out["model"] == "mobilenet_v2"
    assert out["config"]["width"] == 0.5 and out["config"]["resolution"] == 160
    t = a.totals()
    assert {k: out["totals"][k] for k in ("params", "macs", "flops", "activations")} == \
        {k: t[k] for k in ("params", "macs", "flops", "activations")}
    assert len(out["layers"]) == len(a.rows)
    first = out["layers"][0]
    assert {"name", "op", "in_shape", "out_shape", "params", "macs", "activations"} <= set(first)
    assert sum(layer["macs"] for layer in out["layers"]) == t["macs"]


def test_summary_level_takes_a_depth_in_digits(capsys):
    assert main(["summary", "resnet50", "--level", "1"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{k} " in out for k in ("stem", "s1", "s4", "head"))


def test_summary_text_has_totals(capsys):
    assert main(["summary", "lenet"]) == 0
    out = capsys.readouterr().out
    assert "274,656" in out and "fc3" in out


@pytest.mark.parametrize("fmt,marker", [("dot", "digraph"), ("svg", "<svg")])
def test_graph_formats(capsys, fmt, marker):
    assert main(["graph", "mobilenet_v2", "--format", fmt, "--level", "stage"]) == 0
    assert marker in capsys.readouterr().out


def test_graph_expand(capsys):
    assert main(["graph", "mobilenet_v2", "--expand", "s2.b1,s4", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert '"cluster_c-s2.b1"' in dot and '"n-s2.b1.dw"' in dot and '"n-s2.b2"' in dot


@pytest.mark.parametrize("args,needle", [
    (["summary", "no_such_model"], "unknown model 'no_such_model'"),
    (["summary", "mobilenet_v2", "--width", "9"], "width must be a number in [0.1, 3]"),
    (["summary", "mobilenet_v2", "--width", "abc"], "width='abc'"),
    (["summary", "mobilenet_v2", "--bogus", "1"], "unknown knob 'bogus'"),
    (["summary", "mobilenet_v2", "--width"], "has no value"),
    (["graph", "mobilenet_v2", "--level", "galaxy"], "level='galaxy'"),
    (["summary", "mobilenet_v2", "--level", "99"], "level='99' is not allowed (out of range)"),
    (["summary", "mobilenet_v2", "--level", "1" + "0" * 400], "is not allowed (out of range)"),
    (["graph", "mobilenet_v2", "--expand", "s2.b1,s9"], "expand='s9' is not allowed"),
    (["summary", "mobilenet_v2", "--resolution", "1e9"], "resolution must be an integer in [32, 1024]"),
])
def test_bad_input_exits_2_without_traceback(args, needle):
    p = run(args)
    assert p.returncode == 2
    assert needle in p.stderr
    assert "Traceback" not in p.stderr


def test_measure_stores_and_prints(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "m.sqlite"))
    assert main(["measure", "lenet", "--min_run_time", "0.05", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["settings"]["batch"] == 1 and rec["result"]["median_ms"] > 0
    from archlib.hardware.store import Store

    assert len(Store(tmp_path / "m.sqlite").rows(kind="latency")) == 1


def test_measure_bad_setting_exits_2(tmp_path):
    p = subprocess.run([sys.executable, "-m", "archlib", "measure", "lenet", "--threads", "-3"],
                       capture_output=True, text=True, timeout=120, env={**__import__("os").environ,
                                                                         "ARCHLIB_DB": str(tmp_path / "m.sqlite")})
    from archlib.hardware.host import usable_cpus

    assert p.returncode == 2 and f"threads must be an integer in [1, {usable_cpus()}]" in p.stderr
