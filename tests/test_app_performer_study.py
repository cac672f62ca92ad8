"""The Performer error study is bounded: its cost is estimated first; a cheap study runs at once,
a dear one on a click (progress, Stop), one past the limit is refused with the limit named."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.performer import study
from archlib import performer
from archlib.hardware import store

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
PAGE = "../pages/performer.py"
#: the issue's link: about 18 s and 25 CPU-seconds per view, recomputed for every fresh value
WORST = {"view": "error", "head_dim": "256", "tokens": "1024", "seeds": "31", "scale": "1.95"}


@pytest.fixture(autouse=True)
def _db(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))


def open_page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def error_charts(at: AppTest) -> list[dict]:
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [f for f in figs if "random features m" in json.dumps(f["layout"].get("xaxis", {}))]


def test_the_worst_link_waits_for_a_click_and_says_what_it_costs(monkeypatch):
    monkeypatch.setattr(performer, "approximation_error", lambda *a, **k: pytest.fail("ran before the click"))
    at = open_page(WORST)
    info = " ".join(i.value for i in at.info)
    assert "GMACs in float64" in info and "it runs when you ask" in info
    assert [b.label for b in at.button if b.label == "Run the study"] and not error_charts(at)
    c = study.cost(("random", 1024, 256, 1.95, 31, "deit_tiny_patch16_224", 1))
    assert study.AUTO_SECONDS < c["seconds"] <= study.MAX_SECONDS


def test_a_click_runs_it_with_progress_and_stop(monkeypatch):
    monkeypatch.setattr(study, "AUTO_SECONDS", 0.0)  # a small study, made to need the click
    at = open_page({"view": "error", "head_dim": "8", "tokens": "16", "seeds": "2"})
    assert not error_charts(at)
    next(b for b in at.button if b.label == "Run the study").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (fig,) = error_charts(at)
    assert sum(len(t["x"]) for t in fig["data"] if t.get("mode") == "lines+markers") == len(study.points())
    assert not [b for b in at.button if b.label == "Run the study"]


def test_stop_forgets_the_request_but_keeps_the_points(monkeypatch):
    monkeypatch.setattr(study, "AUTO_SECONDS", 0.0)
    s = ("random", 16, 8, 0.5, 2, "deit_tiny_patch16_224", 1)
    at = open_page({"view": "error", "head_dim": "8", "tokens": "16", "seeds": "2"})
    at.session_state[study.RUN] = s  # what Run left, then the user pressed Stop mid-way
    at.run()
    assert error_charts(at)
    stop = [b for b in at.button if b.label == "Stop"]
    assert not stop  # finished: the Stop button is gone with the progress bar
    at.session_state[study.RUN] = None
    at.run()
    assert not error_charts(at) and [b for b in at.button if b.label == "Run the study"]


def test_past_the_limit_it_is_refused_with_the_limit_named(monkeypatch):
    monkeypatch.setattr(study, "MAX_SECONDS", 1.0)
    monkeypatch.setattr(performer, "approximation_error", lambda *a, **k: pytest.fail("ran a refused study"))
    at = open_page(WORST)
    err = " ".join(e.value for e in at.error)
    assert "This study is refused" in err and "at most 1 s of work is run per view" in err
    assert not [b for b in at.button if b.label == "Run the study"]


def test_the_default_study_runs_at_once():
    at = open_page({"view": "error"})
    assert study.cost(("random", 196, 32, 0.5, 8, "deit_tiny_patch16_224", 1))["seconds"] <= study.AUTO_SECONDS
    assert error_charts(at)


def test_cost_counts_what_approximation_error_runs():
    """MACs: the exact attention once, then per seed a feature draw and FAVOR+'s matmuls."""
    macs, nbytes = performer.error_point_cost(100, 16, heads=2, features=32, seeds=3, feature_kind="iid")
    assert macs == 2 * 2 * 100 * 100 * 16 + 3 * 2 * (4 * 100 * 32 * 16 + 100 * 32)
    assert nbytes >= 8 * 2 * 2 * 100 * 100  # the scores and their softmax, float64
