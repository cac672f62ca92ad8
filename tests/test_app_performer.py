"""AppTest of the Performer page: default run, URL in, bad URL values named, each view computes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from archlib.core import attention as att
from archlib.hardware import store

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
PAGE = "../pages/performer.py"


@pytest.fixture(autouse=True)
def _db(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))  # the host lock lives next to it


def open_page(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=90)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_default_run_shows_the_issue_crossover():
    at = open_page()
    assert at.title[0].value.startswith("Performers")
    assert metrics(at)["MACs crossover"] == "222 tokens"  # d_h = 32, m = 110
    macs, memory = figures(at)
    names = {t["name"] for t in macs["data"]}
    assert names == {"softmax attention", "FAVOR+ (Performer)"}
    assert macs["layout"]["xaxis"]["type"] == "log" and macs["layout"]["shapes"]  # the crossover line
    assert not at.warning


def test_url_sets_the_state_and_the_numbers():
    at = open_page({"head_dim": "64", "features": "266", "heads": "4", "axis": "image", "max_tokens": "4096"})
    assert metrics(at)["MACs crossover"] == f"{att.crossover_tokens(64, 266):,} tokens"
    mem = att.memory_crossover_tokens(dim=256, heads=4, features=266)
    assert metrics(at)["Memory crossover"] == f"{mem:,} tokens"
    assert at.session_state["performer.head_dim"] == 64
    assert "image side" in figures(at)[0]["layout"]["xaxis"]["title"]["text"]
    assert at.query_params["features"] in ("266", ["266"]) and at.query_params["axis"] in ("image", ["image"])


def test_bad_url_values_are_named_with_their_range():
    at = open_page({"head_dim": "999", "features": "abc", "view": "nope", "bogus": "1"})
    text = " ".join(w.value for w in at.warning).replace("\\", "")  # shown markdown-escaped
    assert "head_dim='999'" in text and "features='abc'" in text and "view='nope'" in text
    assert "[4, 256]" in text and "[1, 1024]" in text and "cost, latency, error" in text
    assert "Unknown parameter head_dim" not in text and "Unknown parameter bogus ignored" in text
    assert metrics(at)["MACs crossover"] == "222 tokens"  # the defaults were used


def test_error_view_on_random_and_vit_inputs():
    at = open_page({"view": "error", "tokens": "32", "seeds": "2", "head_dim": "8"})
    (fig,) = figures(at)
    kinds = {t["name"] for t in fig["data"]}
    assert kinds == {"orthogonal features", "iid features"}
    assert all(len(t["x"]) == 8 and t["error_y"]["array"] for t in fig["data"])
    at = open_page({"view": "error", "source": "vit", "seeds": "2", "block": "3"})
    assert "deit_tiny_patch16_224's block 3" in " ".join(c.value for c in at.caption)


def test_latency_view_measures_on_click():
    at = open_page({"view": "latency", "max_tokens": "256", "head_dim": "16"})
    assert not figures(at)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    (fig,) = figures(at)
    assert [t["x"] for t in fig["data"]] == [[64, 128, 256]] * 2
