"""The uploads store and what reads it: a file is kept only once archlib can cost it, with its input
size (first description kept), sizes past the knobs' range refused, measurements of uploads read
back (an evicted one named), sessions' threads racing on one folder, labels without parsing."""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading

import pytest
from onnx_graphs import CASES, N, const, model, save

import archlib
from archlib.cli import main
from archlib.hardware import host as hostinfo
from archlib.hardware import store
from archlib.importers import models, onnx_file, uploads

SETTINGS = {"device": "cpu", "batch": 1, "threads": 1, "dtype": "float32", "channels_last": False}
FAST = ["--min_run_time", "0.05", "--max_seconds", "30", "--threads", "1"]


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    """Every test keeps its uploads and measurements in its own folder, with a cold cache."""
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db" / "results.sqlite"))
    models._upload.cache_clear()
    yield
    models._upload.cache_clear()


def _kept() -> list[str]:
    return sorted(p.name for p in uploads.folder().glob("*")) if uploads.folder().exists() else []


def _dyn(tmp_path) -> str:
    return str(save(CASES["dynamic_input"][0], tmp_path, "dyn"))


def _resize(tmp_path) -> str:
    m = model([N("Relu", ["x"], ["r"]), N("Resize", ["r", "", "sc"], ["y"], mode="nearest")],
              [const("sc", [1.0, 1.0, 2.0, 2.0], "float32")])
    return str(save(m, tmp_path, "resize"))


# -- 4: measure keeps a file only once it lowers, with its input size --------------------------
def test_measure_keeps_nothing_archlib_cannot_cost(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(store, "_run", lambda *a: pytest.fail("measured a file archlib cannot cost"))
    assert main(["measure", _resize(tmp_path), *FAST]) == 2
    err = capsys.readouterr().err
    assert "cannot be costed: Resize node" in err and err.count("\n") == 1
    assert _kept() == []


def test_keep_file_lowers_first_and_keeps_the_input_size(tmp_path):
    path = _dyn(tmp_path)
    with pytest.raises(archlib.ArchlibError, match="the input's size is dynamic"):
        models.keep_file(path)
    assert _kept() == []
    name = models.keep_file(path, {"height": 16, "width": 12})
    assert uploads.describe(uploads.sha_of(name))["input"] == {"height": 16, "width": 12}
    assert archlib.config(name) == {"height": 16, "width": 12}  # knob defaults, never None
    assert all(k.default is not None for k in archlib.get_model(name).knobs)


def test_an_upload_kept_without_its_input_size_is_named_until_uploaded_again(tmp_path):
    data = open(_dyn(tmp_path), "rb").read()
    name = uploads.add(data, onnx_file.read(data).sha256, filename="dyn.onnx")  # as an older keep_file did
    with pytest.raises(archlib.ArchlibError, match="has no usable input size .*upload the file again"):
        archlib.get_model(name)
    assert models.upload(data, "dyn.onnx", input_shape=(4, 20, 10)) == name  # fills in what the first lacked
    assert archlib.config(name) == {"height": 20, "width": 10}


# -- 5: measurements of uploads read back; files the uploads cannot keep are refused --------------
def test_a_measured_file_reads_back_under_its_upload_name(tmp_path, capsys):
    from app.pareto import data

    assert main(["measure", _dyn(tmp_path), "--input", "4,16,12", "--json", *FAST]) == 0
    out = capsys.readouterr()
    name = out.err.split(" is kept as ")[1].split()[0]
    assert json.loads(out.out)["result"]["median_ms"] > 0
    s = store.Store()
    (row,) = s.rows(kind="latency")
    assert s.skipped == [] and row["model"] == name and row["config"] == {"height": 16, "width": 12}
    assert data.canon(row["model"], row["config"]) == data.canon(name, {})  # the Pareto user point's key


def test_measurements_of_an_evicted_upload_are_named_and_read_back_once_it_returns(tmp_path):
    data = open(_dyn(tmp_path), "rb").read()
    name = models.upload(data, "dyn.onnx", input_shape=(4, 16, 16))
    s = store.Store()
    s.put(hostinfo.host_info(), name, {"width": 8}, SETTINGS, "latency", {"median_ms": 1.5})
    assert [(r["model"], r["config"]) for r in s.rows()] == [(name, {"height": 16, "width": 8})]
    assert uploads.evict(0) == [uploads.sha_of(name)]
    assert s.rows() == [] and len(s.skipped) == 1
    assert "an upload no longer kept on this server (evicted" in s.skipped[0]
    models.upload(data, "dyn.onnx", input_shape=(4, 16, 16))
    assert [r["result"] for r in s.rows()] == [{"median_ms": 1.5}]


@pytest.mark.parametrize("model,why", [
    ("dyn.onnx", "a model this archlib does not know (an ONNX file's path: only uploads, onnx:<sha256>, read back)"),
    ("onnx:zz", "a model this archlib does not know"),
    ("onnx:" + "0" * 64, "an upload no longer kept on this server")])
def test_rows_of_paths_and_bad_upload_names_are_named(tmp_path, model, why):
    s = store.Store()
    s.put(hostinfo.host_info(), "lenet", {}, SETTINGS, "latency", {"median_ms": 1.0})
    name = str(tmp_path / model) if model.endswith(".onnx") else model
    if model.endswith(".onnx"):
        _dyn(tmp_path)
    with contextlib.closing(sqlite3.connect(s.path)) as con:  # as an older `measure model.onnx` stored it
        con.execute("UPDATE measurements SET model=?", (name,))
        con.commit()
    assert s.rows() == [] and why in s.skipped[0]


@pytest.mark.parametrize("how", ["external", "too_large"])
def test_measure_refuses_a_file_the_uploads_cannot_keep(tmp_path, monkeypatch, capsys, how):
    import onnx

    monkeypatch.setattr(store, "_run", lambda *a: pytest.fail("measured what could not be stored by name"))
    path = tmp_path / "m.onnx"
    m = onnx.ModelProto()
    m.CopyFrom(CASES["conv_asymmetric_pads"][0])  # saving with external data changes the proto itself
    if how == "external":
        onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="m.data",
                  size_threshold=0)
    else:
        onnx.save(m, path)
        monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 100)
    assert main(["summary", str(path)]) == 0  # the file itself is fine
    capsys.readouterr()
    assert main(["measure", str(path), *FAST]) == 2
    err = capsys.readouterr().err
    assert "cannot be kept among the uploads" in err and err.count("\n") == 1
    assert ("external_data=False" if how == "external" else "over the 0 MiB an upload may be") in err
    assert _kept() == []


# -- 8: input sizes past the knobs' range ---------------------------------------------------
def test_an_input_size_past_the_knob_range_is_refused_naming_the_range(tmp_path):
    path = _dyn(tmp_path)
    data = open(path, "rb").read()
    for call in (lambda: models.upload(data, "dyn.onnx", input_shape=(4, 5000, 16)),
                 lambda: models.shape_knobs(path, (4, 5000, 16)),
                 lambda: archlib.analyze(path, input_shape=(4, 5000, 16)),
                 lambda: models.keep_file(path, {"height": 5000, "width": 16})):
        with pytest.raises(archlib.ArchlibError, match=r"height=5000 is not allowed .*integer in \[1, 4096\]"):
            call()
    assert _kept() == []
    assert main(["summary", path, "--input", "4,16,4097"]) == 2


# -- 12: the first description is kept ------------------------------------------------------------
def test_a_second_upload_keeps_the_first_description(tmp_path):
    data = open(_dyn(tmp_path), "rb").read()
    name = models.upload(data, "first.onnx", input_shape=(4, 32, 24))
    described = (uploads.folder() / f"{uploads.sha_of(name)}.json").read_bytes()
    assert archlib.config(name) == {"height": 32, "width": 24}
    assert models.upload(data, "second.onnx", input_shape=(4, 16, 16)) == name
    assert (uploads.folder() / f"{uploads.sha_of(name)}.json").read_bytes() == described
    models._upload.cache_clear()  # as a fresh process would see it
    assert archlib.config(name) == {"height": 32, "width": 24}  # ?model=onnx:<sha> opens what it opened
    assert models.file_name(name) == "first.onnx"
    assert models.shape_knobs(name, (4, 16, 16)) == {"height": 16, "width": 16}  # the second's own size


# -- 13: sessions racing on one folder ----------------------------------------------------------
def test_simultaneous_uploads_loads_and_evictions_raise_only_the_evicted_message(tmp_path):
    data = open(_dyn(tmp_path), "rb").read()
    sha = onnx_file.read(data).sha256
    padded = [data + bytes(i + 1) for i in range(3)]  # other files' bytes (never parsed here)
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def run(fn):
        def body():
            start.wait()
            for _ in range(40):
                try:
                    fn()
                except archlib.ArchlibError as e:
                    if "evicted" not in str(e):
                        errors.append(e)
                except BaseException as e:  # noqa: BLE001  (what the test looks for)
                    errors.append(e)
        return threading.Thread(target=body)

    jobs = [run(lambda: uploads.add(data, sha, filename="dyn.onnx", meta={"input": {"height": 8, "width": 8}}))
            for _ in range(4)]
    jobs += [run(lambda i=i: uploads.add(padded[i], f"{i:064x}", filename="p.onnx", limit=len(data) * 2))
             for i in range(3)]
    jobs += [run(lambda: uploads.load(uploads.name_of(sha))) for _ in range(3)]
    jobs += [run(lambda: uploads.evict(0)) for _ in range(2)]
    for t in jobs:
        t.start()
    for t in jobs:
        t.join(timeout=120)
    assert errors == []
    assert not list(uploads.folder().glob("*.tmp"))


# -- 14: labels from the description; one session's upload leaves the others' cache ----------------
def test_a_label_reads_the_description_and_an_upload_keeps_other_sessions_cache(tmp_path, monkeypatch):
    from app.ui import widgets

    first = models.upload(save(CASES["pools"][0], tmp_path, "p").read_bytes(), "pools.onnx")
    archlib.get_model(first)
    assert models._upload.cache_info().currsize == 1
    models.upload(save(CASES["gemm_transB"][0], tmp_path, "g").read_bytes(), "gemm.onnx")
    assert models._upload.cache_info().currsize == 1  # not cleared for every session
    models._upload.cache_clear()
    monkeypatch.setattr(onnx_file, "read", lambda *a, **k: pytest.fail("a label parsed the file"))
    assert widgets.model_label(first) == f"pools.onnx ({first[:17]}…)"
