"""An uploaded ONNX file in the app (AppTest): every page opens it by `?model=onnx:<sha256>`,
with archlib's exact numbers; unknown hashes get a message; names from the file stay inert."""
from __future__ import annotations

import pytest
from onnx_graphs import CASES, N, model, weight
from streamlit.testing.v1 import AppTest
from test_app_pages import MAIN, exact, warnings

import archlib
from archlib.importers import models

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture()
def upload(tmp_path, monkeypatch):
    """A small CNN uploaded with a hostile file name and node name, into this test's own store."""
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db" / "results.sqlite"))
    m = model([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name=f"/stem/{HOSTILE}"), N("Relu", ["c"], ["r"]),
               N("GlobalAveragePool", ["r"], ["g"]), N("Flatten", ["g"], ["f"]),
               N("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
              [weight("w", 8, 4, 3, 3), weight("fw", 5, 8), weight("fb", 5)])
    return models.upload(m.SerializeToString(), f"{HOSTILE}.onnx")


def run(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=90)
    for k, v in query.items():
        at.query_params[k] = v
    if page != "explore":
        at.switch_page(f"../pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _markup(at: AppTest) -> str:
    return "\n".join([*(e.value for e in at.markdown), *(e.value for e in at.caption), *(e.value for e in at.title),
                      *(e.value for e in at.subheader), *(e.value for e in at.info)])


def test_explore_opens_an_upload_with_exact_numbers(upload):
    at = run("explore", model=upload)
    a = archlib.analyze(upload)
    assert at.sidebar.selectbox[0].value == upload
    assert exact(at, "Parameters") == a.totals()["params"] == 8 * 36 + 45
    assert exact(at, "MACs") == a.totals()["macs"] == 8 * 36 * 64 + 40
    text = _markup(at)
    assert HOSTILE not in text and "\\<img" in text  # the file's names are escaped, never markup
    assert "BatchNorm" in text  # the exporter's folding is said


def test_upload_page_compare_and_pareto_show_it(upload):
    at = run("upload", model=upload)
    assert exact(at, "MACs") == archlib.analyze(upload).totals()["macs"]
    assert HOSTILE not in _markup(at)
    at = run("compare", model=upload)
    assert "onnx:" not in warnings(at)
    at = run("pareto", model=upload, acc="71.5")
    assert "71.50%" in _markup(at) and "you entered" in _markup(at)
    at = run("pareto", model=upload, acc="150")
    assert "acc='150' is not allowed" in warnings(at)


def test_unknown_or_malformed_upload_names_get_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db.sqlite"))
    at = run("explore", model="onnx:" + "0" * 64)
    assert "never uploaded to this server" in warnings(at)
    assert at.sidebar.selectbox[0].value != "onnx:" + "0" * 64
    at = run("explore", model="/etc/passwd.onnx")
    assert "is not a known model" in warnings(at)
    at = run("explore", model="onnx:zz")
    assert "64 lowercase hex digits" in warnings(at)


def test_dynamic_upload_keeps_its_input_size_as_knob_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db.sqlite"))
    data = CASES["dynamic_input"][0].SerializeToString()
    name = models.upload(data, "dyn.onnx", input_shape=(4, 16, 16))
    at = run("explore", model=name, height="32")
    assert exact(at, "MACs") == archlib.analyze(name, height=32).totals()["macs"]
