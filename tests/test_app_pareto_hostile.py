"""The Pareto page when nothing is plotted, and its URL keys fuzzed together with results
stores holding 0, 1 and many measurements, unreadable rows, or a broken database."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from broken_stores import BROKEN, make_broken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app.pareto import data
from app.ui import schema
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, store

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
PAGE = "../pages/pareto.py"


def open_page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(PAGE).run()
    return at


def markers(at: AppTest) -> list[dict]:
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [t for t in fig["data"] if t.get("customdata") and t.get("mode") == "markers"]


@pytest.mark.parametrize("query, why", [
    ({"fam": "NASNet", "src": "timm"}, "No published result of NASNet comes from timm; their sources are paper"),
    ({"x": "latency", "fam": "AlexNet"}, "has a published latency on"),
    ({"x": "activations", "fam": "NASNet"}, "has both a top-1 accuracy and a value on the activations axis"),
    ({"x": "measured"}, "has been measured on this host with the current measurement settings"),
])
def test_nothing_plotted_shows_an_empty_chart_and_says_why(tmp_path, monkeypatch, query, why):
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))
    at = open_page(query)
    assert not at.exception, [e.value for e in at.exception]
    assert markers(at) == []  # the chart is drawn, with its axes, and no point
    info = " ".join(i.value for i in at.info)
    assert why in info, info


def test_frontier_of_nothing_has_an_empty_overall_front():
    df = data.plotted(data.published("", {}), "measured")
    assert df.empty and data.fronts(df, "measured", "both") == {"overall": []}


# -- results stores ----------------------------------------------------------------------
SETTINGS = measure.settings()


def _put_many(s: store.Store, n: int, host: dict) -> None:
    done = 0
    for r in data.RESULTS:
        if r.archlib_model and done < n:
            s.put(host, r.archlib_model, r.knobs, SETTINGS, "latency", {"median_ms": 1.0 + done})
            done += 1


def make_store(path: Path, state: str) -> None:
    """A results database at `path` in `state` (absent when "none")."""
    here = hostinfo.host_info()
    if state == "none":
        return
    if state in ("empty", "one", "many", "bad_rows"):
        s = store.Store(path)
        if state == "one":
            s.put(here, "efficientnet_b0", {}, SETTINGS, "latency", {"median_ms": 12.5})
        if state == "many":
            _put_many(s, 80, here)
            _put_many(s, 10, {**here, "hostname": "gpu-box", "device": "cuda: H200"})
        if state == "bad_rows":
            _put_many(s, 5, here)
            key = json.dumps({k: SETTINGS[k] for k in store.KEY_SETTINGS}, sort_keys=True, separators=(",", ":"))
            hid = hostinfo.host_id(here)
            with contextlib.closing(sqlite3.connect(path)) as con:
                con.executemany("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?)", [
                    (hid, "lenet", "{}", key, "latency", "{}", "not json", 1.0),
                    (hid, "alexnet", "{}", key, "latency", "{}", '{"iqr_ms": 1}', 2.0),
                    (hid, "no_such_model", "{}", key, "latency", "{}", '{"median_ms": 1}', 3.0),
                    (hid, "resnet18", '{"width": 9}', key, "latency", "{}", '{"median_ms": 1}', 4.0),
                    ("x", "resnet18", "{}", key, "latency", "[1]", '{"median_ms": 1}', 5.0)])  # another host
                con.commit()
        return
    make_broken(path, state)


STATES = ("none", "empty", "one", "many", "bad_rows", *BROKEN)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("stores")
    out = {}
    for s in STATES:
        make_store(base / f"{s}.sqlite", s)
        out[s] = base / f"{s}.sqlite"
    return out


@contextlib.contextmanager
def using(stores: dict[str, Path], state: str, where: Path):
    """ARCHLIB_DB pointing at a fresh copy of the `state` database."""
    db = where / "m.sqlite"
    for p in where.glob("m.sqlite*"):
        p.unlink()
    if stores[state].exists():
        shutil.copy(stores[state], db)
    before = os.environ.get(store.ENV)
    os.environ[store.ENV] = str(db)
    try:
        yield db
    finally:
        if before is None:
            del os.environ[store.ENV]
        else:
            os.environ[store.ENV] = before


@pytest.mark.parametrize("state", STATES)
def test_every_store_state_renders_the_measured_axis(stores, tmp_path, state):
    with using(stores, state, tmp_path) as db:
        at = open_page({"x": "measured"})
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(e.value for e in [*at.error, *at.warning]).replace("\\", "")
    n = len(markers(at))
    if state in ("none", "empty"):
        assert n == 0 and not shown
    elif state in ("one", "many"):
        assert n > 0 and not shown
    elif state == "bad_rows":
        assert n > 0 and "4 stored measurement(s)" in shown and "do not read back" in shown
        assert "a model this archlib does not know" in shown and "has no positive median_ms" in shown
    else:
        assert n == 0 and str(db) in shown and "Move it aside" in shown
        assert "the results database cannot be used" in " ".join(i.value for i in at.info)
        assert "Measure latency" not in [b.label for b in at.button]  # nothing is measured into it


# -- fuzzing: the page's keys x the store states -----------------------------------------
HOSTILE = ["", ",", "NASNet", "AlexNet", "ResNet,NASNet", "timm", "paper,timm", "bogus", "measured", "latency",
           "activations", "params", "none", "overall", "false", "true", "2", "width=0.5", "width=99;resolution=32",
           "<script>", "=cmd()", "١٢٨", "²", "9" * 300, "MobileNetV2,EfficientNet", "torchvision,pycls"]
KEYS = {"x": list(data.AXES), "fam": list(data.FAMILIES), "src": list(data.SOURCES), "dev": list(data.DEVICES),
        "front": list(schema.PARETO_FRONTS), "unverified": ["true", "false"], "cfg": ["width=0.5", "resolution=160"],
        "model": ["mobilenet_v2", "efficientnet_b0", "vit_b_16", "lenet"], "bogus": ["1"]}
VALUE = {k: st.one_of(st.sampled_from(v), st.sampled_from(HOSTILE), st.text(max_size=20)) for k, v in KEYS.items()}
QUERIES = st.fixed_dictionaries({}, optional=VALUE)
FUZZ_EXAMPLES = 40


@pytest.mark.slow
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES, state=st.sampled_from(STATES))
def test_fuzz_pareto_keys_with_every_store_state(stores, tmp_path, query, state):
    with using(stores, state, tmp_path):
        at = open_page(query)
    assert not at.exception, (query, state, [e.value for e in at.exception])
    assert at.get("plotly_chart"), (query, state)  # a chart (maybe empty) is always drawn
    if not markers(at):
        assert at.info, (query, state)  # and an empty one says why
