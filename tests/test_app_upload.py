"""An uploaded ONNX file in the app (AppTest): every page opens it by `?model=onnx:<sha256>`,
with archlib's exact numbers; unknown hashes get a message; names from the file stay inert."""
from __future__ import annotations

import re

import pytest
from app_support import MAIN, exact, run, warnings
from onnx_graphs import CASES, N, model, weight
from streamlit.testing.v1 import AppTest

import archlib
from app.ui import state, widgets
from archlib.importers import models, onnx_file, uploads

HOSTILE = "<img src=x onerror=alert(1)>"
#: Markdown a label would render: a remote image (a tracker) and a link (no "/": a file name has none)
MD_PAYLOAD = "![t](https:tracker.example?u=1) [click](https:evil.example)"


@pytest.fixture()
def upload(tmp_path, monkeypatch):
    """A small CNN uploaded with a hostile file name and node name, into this test's own store."""
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db" / "results.sqlite"))
    m = model([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name=f"/stem/{HOSTILE}"), N("Relu", ["c"], ["r"]),
               N("GlobalAveragePool", ["r"], ["g"]), N("Flatten", ["g"], ["f"]),
               N("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
              [weight("w", 8, 4, 3, 3), weight("fw", 5, 8), weight("fb", 5)])
    return models.upload(m.SerializeToString(), f"{HOSTILE}.onnx")


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


def _live_markdown(text: str) -> bool:
    """Whether `text` holds a Markdown link or image that would render (an unescaped `](`)."""
    return re.search(r"(?<!\\)\]\(", text) is not None


def test_markdown_in_file_names_stays_text_in_buttons_and_the_select(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db.sqlite"))
    first = models.upload(CASES["pools"][0].SerializeToString(), f"{MD_PAYLOAD}.onnx")
    second = models.upload(CASES["gemm_transB"][0].SerializeToString(), f"{MD_PAYLOAD} 2.onnx")
    at = AppTest.from_file(MAIN, default_timeout=90)
    at.query_params["model"] = second
    at.session_state[state.SS_IMPORTED] = [first]
    at.switch_page("../pages/upload.py")
    at.run()
    assert not at.exception, at.exception
    (button,) = [b for b in at.button if b.key == f"upload.open.{first}"]
    assert MD_PAYLOAD.split()[0][:4] in button.label.replace("\\", "") and not _live_markdown(button.label)
    assert not any(_live_markdown(t) for t in _markup(at).splitlines())
    # a select shows its options as text: the plain name, neither rendered nor with escapes showing
    options = at.sidebar.selectbox[0].options
    assert f"{MD_PAYLOAD}.onnx ({first[:17]}…)" in options and not any("\\" in o for o in options)


def test_crosscheck_module_names_are_escaped():
    from app.explore import parts

    assert not _live_markdown(parts._modules([f"stem.{MD_PAYLOAD}", ""]))
    assert "(whole model)" in parts._modules([""]).replace("\\", "")


def test_an_upload_kept_without_its_input_size_opens_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db.sqlite"))
    data = CASES["dynamic_input"][0].SerializeToString()
    name = uploads.add(data, onnx_file.read(data).sha256, filename="dyn.onnx")  # as an older CLI measure kept it
    models._upload.cache_clear()
    at = run("explore", model=name)
    assert "has no usable input size" in warnings(at) and at.sidebar.selectbox[0].value != name


def test_an_open_upload_evicted_meanwhile_is_named_and_the_app_keeps_working(upload):
    at = run("explore", model=upload)
    uploads.evict(0)
    models._upload.cache_clear()  # another process's view: the file is gone
    at.run()
    assert not at.exception, at.exception
    assert "it has been evicted to make room" in warnings(at)
    assert at.sidebar.selectbox[0].value != upload and upload not in at.session_state[state.SS_IMPORTED]


def test_a_knob_without_a_default_gets_an_empty_box():
    def script():
        import streamlit as st

        from app.ui import widgets
        from archlib.core.knobs import Knob

        value = widgets.control(Knob("height", "int", None, "input height", lo=1, hi=4096, step=1), "k")
        st.write(f"value={value}")

    at = AppTest.from_function(script).run()
    assert not at.exception, at.exception
    assert at.number_input[0].value is None and "value=None" in at.markdown[0].value
    at.number_input[0].set_value(32).run()
    assert "value=32" in at.markdown[0].value


def test_the_upload_page_link_carries_an_input_size_other_than_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db.sqlite"))
    data = CASES["dynamic_input"][0].SerializeToString()
    name = models.upload(data, "dyn.onnx", input_shape=(4, 32, 32))
    models.upload(data, "dyn.onnx", input_shape=(4, 16, 16))  # another user's size: the default stays 32
    view = state.View(state.UPLOAD, name, {"height": 16, "width": 16}, {})
    assert state.encode(view) == {"model": name, "height": "16", "width": "16"}
    at = run("upload", model=name, height="16", width="16")
    assert "Unknown parameter" not in warnings(at)
    assert exact(at, "MACs") == archlib.analyze(name, height=16, width=16).totals()["macs"]
    assert widgets.model_label(name).startswith("dyn.onnx (")


def test_a_measured_upload_reaches_paretos_measured_axis(upload):
    from archlib.hardware import host as hostinfo
    from archlib.hardware import measure, store

    store.Store().put(hostinfo.host_info("cpu"), upload, {}, measure.settings(), "latency", {"median_ms": 2.5})
    at = run("pareto", model=upload, x="measured")
    assert "do not read back" not in warnings(at)
    assert "2.5 on this axis" in _markup(at).replace("\\", "")
