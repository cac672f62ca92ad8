"""ONNX files through the IR: hand-built graphs per mapped operator, bad files, uploads, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch
from onnx import helper
from onnx_graphs import CASES, N, const, model, save, weight

import archlib
from archlib.hardware import store
from archlib.importers import models, uploads


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    """Every test keeps its uploads in its own folder."""
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db" / "results.sqlite"))


def _given(case: str) -> dict:
    return {"input_shape": (4, 8, 8)} if case == "dynamic_input" else {}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mapped_operator(case, tmp_path):
    m, kinds, macs, params, out = CASES[case]
    a = archlib.analyze(str(save(m, tmp_path, case)), **_given(case))
    assert [r.op for r in a.rows if r.op != "param"] == kinds
    assert a.totals()["macs"] == macs and a.totals()["params"] == params
    assert a.output_shape == out
    built = archlib.build(str(tmp_path / f"{case}.onnx"), **_given(case)).eval()
    batch = 1 if a.ir.batch == 1 else 3
    with torch.no_grad():
        y = built(torch.randn(batch, *a.input_shape))
    assert tuple(y.shape) == (batch, *out)


def test_rows_are_named_after_nodes(tmp_path):
    m = model([N("Conv", ["x", "w"], ["c"], name="/stage1/stage1.0/dw/Conv"),
               N("Relu", ["c"], ["y"], name="act<script>")], [weight("w", 4, 1, 3, 3)])
    m.graph.node[0].attribute.append(helper.make_attribute("group", 4))
    a = archlib.analyze(str(save(m, tmp_path, "named")))
    assert [r.name for r in a.rows] == ["stage1.0.dw.Conv", "act_script_"]


def test_dynamic_batch_and_fixed_batch(tmp_path):
    m, *_ = CASES["dynamic_input"]
    path = str(save(m, tmp_path, "dyn"))
    assert archlib.analyze(path, input_shape=(4, 16, 12)).ir.batch is None
    assert archlib.config(path, input_shape=(4, 16, 12)) == {"height": 16, "width": 12}
    fixed, *_ = CASES["pools"]
    assert archlib.analyze(str(save(fixed, tmp_path, "fixed"))).ir.batch == 1


def _write(tmp_path, name: str, data: bytes) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _unsupported(tmp_path) -> str:
    m = model([N("Relu", ["x"], ["r"]), N("Resize", ["r", "", "sc"], ["y"], mode="nearest")],
              [const("sc", [1.0, 1.0, 2.0, 2.0], "float32")])
    return str(save(m, tmp_path, "resize"))


def _external(tmp_path) -> str:
    m = onnx.ModelProto()
    m.CopyFrom(CASES["conv_asymmetric_pads"][0])  # saving with external data changes the proto itself
    path = tmp_path / "ext.onnx"
    onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    (tmp_path / "ext.data").unlink()
    return str(path)


@pytest.mark.parametrize("make,needle", [
    (lambda t: _write(t, "junk.onnx", b"this is not a model at all\n" * 20), "not an ONNX model"),
    (lambda t: _write(t, "trunc.onnx", save(CASES["pools"][0], t, "p").read_bytes()[:-7]), "not an ONNX model"),
    (lambda t: _write(t, "empty.onnx", b""), "the file is empty"),
    (lambda t: str(t / "missing.onnx"), "cannot be read"),
    (_unsupported, "1 node(s) cannot be costed: Resize node"),
    (_external, "external data file 'ext.data'"),
    (lambda t: str(save(CASES["dynamic_input"][0], t, "dyn")), "the input's size is dynamic"),
])
def test_bad_files_are_one_line_exit_2_and_nothing_is_kept(tmp_path, make, needle):
    path = make(tmp_path)
    out = subprocess.run([sys.executable, "-m", "archlib", "summary", path], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and needle in out.stderr and "Traceback" not in out.stderr
    data = Path(path).read_bytes() if Path(path).exists() else b""
    with pytest.raises(archlib.ArchlibError, match="cannot|not an ONNX|dynamic|empty|external"):
        models.upload(data, "f.onnx")
    assert not uploads.folder().exists() or not list(uploads.folder().glob("*.onnx"))


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    from archlib.importers import onnx_file

    path = save(CASES["pools"][0], tmp_path, "big")
    with pytest.raises(archlib.ArchlibError, match=r"at most 0 MiB are read"):
        onnx_file.read(path, max_bytes=10)


def test_cli_summary_json_and_graph(tmp_path, capsys):
    from archlib.cli import main

    path = str(save(CASES["dynamic_input"][0], tmp_path, "dyn"))
    assert main(["summary", path, "--input", "4,8,8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    a = archlib.analyze(path, input_shape=(4, 8, 8))
    assert out["totals"]["macs"] == a.totals()["macs"] and out["config"] == {"height": 8, "width": 8}
    assert any("BatchNorm" in n for n in out["notes"])
    assert main(["graph", path, "--input", "4,8,8", "--format", "dot", "--level", "op"]) == 0
    assert "digraph" in capsys.readouterr().out
    assert main(["summary", path, "--input", "5,8,8"]) == 2
    assert "only the ? sizes can be chosen" in capsys.readouterr().err


def test_uploads_are_content_addressed_and_evicted_least_recently_used(tmp_path):
    assert uploads.folder() == store.db_path().parent / "uploads"
    names = []
    for case in ("pools", "conv_asymmetric_pads", "gemm_transB"):
        data = save(CASES[case][0], tmp_path, case).read_bytes()
        names.append(models.upload(data, f"{case}.onnx"))
        assert models.upload(data, "again.onnx") == names[-1]  # same bytes, same name
    assert archlib.analyze(names[0]).totals() == archlib.analyze(str(tmp_path / "pools.onnx")).totals()
    sizes = {n: (uploads.folder() / f"{uploads.sha_of(n)}.onnx").stat().st_size for n in names}
    uploads.load(names[0])  # used again: now the most recent
    gone = uploads.evict(sizes[names[0]] + sizes[names[2]])
    assert gone == [uploads.sha_of(names[1])]
    with pytest.raises(archlib.ArchlibError, match="never uploaded to this server, or it has been evicted"):
        archlib.analyze(names[1])
    models._upload.cache_clear()
    assert archlib.get_model(names[0]).family.name == "ONNX file"
    assert names[0] not in archlib.list_models()


def test_an_upload_with_a_dynamic_input_keeps_its_size_as_the_default(tmp_path):
    data = save(CASES["dynamic_input"][0], tmp_path, "dyn").read_bytes()
    with pytest.raises(archlib.ArchlibError, match="dynamic"):
        models.upload(data, "dyn.onnx")
    name = models.upload(data, "dyn.onnx", input_shape=(4, 32, 24))
    assert archlib.config(name) == {"height": 32, "width": 24}
    assert archlib.analyze(name, width=8).input_shape == (4, 32, 8)


@pytest.mark.parametrize("bad", ["onnx:abc", "onnx:" + "A" * 64, "onnx:../../etc/passwd"])
def test_upload_names_are_checked(bad):
    with pytest.raises(archlib.ArchlibError, match="64 lowercase hex digits"):
        archlib.analyze(bad)
