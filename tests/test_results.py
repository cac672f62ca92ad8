"""The bundled published results: schema, units, citations, and every row opens in archlib."""
from __future__ import annotations

import csv
import io

import pytest

import archlib
from archlib.data import results
from archlib.errors import ArchlibError

RESULTS = results.load()


def _csv(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[str]]:
    with open(results.DEFAULT_PATH, newline="") as f:
        header = next(csv.reader(f))
    buf = io.StringIO()
    w = csv.DictWriter(buf, header)
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in header})
    reader = csv.DictReader(io.StringIO(buf.getvalue()))
    return list(reader), reader.fieldnames or []


GOOD = {"family": "MobileNetV2", "model": "m", "variant": "v", "kind": "paper", "source_type": "paper_table",
        "source": "a paper", "top1_pct": "72.0", "macs_M": "300", "params_M": "3.4",
        "archlib_model": "mobilenet_v2", "archlib_knobs": "width=0.75;resolution=192"}


def test_bundled_file_loads_with_every_family_and_a_citation_per_row():
    assert len(RESULTS) >= 334
    assert all(r.source and r.citation for r in RESULTS)
    fams = set(results.families(RESULTS))
    assert {"MobileNetV1", "MobileNetV2", "MobileNetV3", "MnasNet", "ShuffleNetV1", "ShuffleNetV2", "NASNet",
            "EfficientNet", "EfficientNetV2", "RegNetX", "RegNetY", "ResNet", "VGG", "AlexNet", "GoogLeNet",
            "SqueezeNet"} <= fams
    assert set(results.sources(RESULTS)) == {"paper", "torchvision", "timm", "pycls"}


def test_reference_rows_are_all_kept_with_their_marks():
    with open(results.DEFAULT_PATH.parent / "paper_results.csv", newline="") as f:
        ref = list(csv.DictReader(f))
    assert [r.notes for r in RESULTS[:len(ref)]] == [r["notes"].strip() for r in ref]
    assert [r.source for r in RESULTS[:len(ref)]] == [r["source"].strip() for r in ref]
    assert sum(r.unverified for r in RESULTS) == 19  # shared/reference marks 19 values unverified
    assert any(r.conflict for r in RESULTS)


def test_known_conflicts_stay_visible():
    d = results.disagreements(RESULTS)
    v1 = [r for r in RESULTS if r.archlib_model == "mobilenet_v1" and not r.knobs]
    assert {r.macs_m for r in v1} >= {569, 575}
    assert all(r.row in d for r in v1)
    squeeze = {r.macs_m for r in RESULTS if r.archlib_model == "squeezenet1_0"}
    assert {819, 833, 1700} <= squeeze


@pytest.mark.parametrize("r", [r for r in RESULTS if r.archlib_model], ids=lambda r: f"row{r.row}")
def test_every_archlib_model_is_registered_and_its_knobs_parse(r):
    assert r.archlib_model in archlib.list_models()
    assert results.parse_knobs(r.archlib_model, r.knobs_text) == dict(r.knobs)
    cfg = archlib.config(r.archlib_model, **r.knobs)
    if r.input_res and "resolution" in cfg:
        assert cfg["resolution"] == r.input_res


def test_published_macs_agree_with_archlib_for_torchvision_rows():
    for r in RESULTS:
        if r.kind == "torchvision" and r.archlib_model and r.macs_m and r.input_res == 224 and not r.knobs:
            got = archlib.analyze(r.archlib_model, **r.knobs).totals()["macs"] / 1e6
            assert got == pytest.approx(r.macs_m, rel=0.01, abs=0.6), (r.row, r.model)  # _ops has 3 decimals


def test_latencies_include_other_pixels():
    rows = [r for r in RESULTS if "Pixel 2" in r.latency_other]
    assert rows and {"Pixel 2 CPU", "Pixel 3 CPU"} <= {d for r in rows for d, _ in r.latencies()}


def test_a_good_row_parses():
    (r,) = results.parse(*_csv([GOOD]))
    assert r.knobs == {"width": 0.75, "resolution": 192} and r.top1 == 72.0 and r.row == 2


@pytest.mark.parametrize("change, words", [
    ({"top1_pct": "172"}, ["row 3", "top1_pct='172'", "[1, 100]", "percent"]),
    ({"macs_M": "-5"}, ["row 3", "macs_M", "multiply-accumulates"]),
    ({"params_M": "lots"}, ["row 3", "params_M='lots'"]),
    ({"latency_ms": "nan", "latency_group": "x"}, ["row 3", "latency_ms"]),
    ({"top5_pct": "50"}, ["row 3", "top5_pct=50", "below top1_pct"]),
    ({"kind": "blog"}, ["row 3", "kind='blog'", "paper, torchvision, timm, pycls"]),
    ({"source": ""}, ["row 3", "source is empty"]),
    ({"archlib_model": "mobilenet_v9"}, ["row 3", "unknown model 'mobilenet_v9'"]),
    ({"archlib_knobs": "width=9"}, ["row 3", "width=", "width must be a number in"]),
    ({"archlib_knobs": "__import__('os')"}, ["row 3", "name=value"]),
    ({"archlib_knobs": "depth=2"}, ["row 3", "unknown knob 'depth'"]),
    ({"archlib_model": "", "archlib_knobs": "width=1"}, ["row 3", "without an archlib_model"]),
    ({"latency_ms": "5"}, ["row 3", "latency_group is empty"]),
])
def test_bad_rows_are_refused_naming_row_and_column(change, words):
    with pytest.raises(ArchlibError) as e:
        results.parse(*_csv([GOOD, {**GOOD, **change}]))
    for w in words:
        assert w in str(e.value)


def test_missing_columns_are_named():
    rows, cols = _csv([GOOD])
    with pytest.raises(ArchlibError, match="macs_M"):
        results.parse(rows, [c for c in cols if c != "macs_M"])


def test_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ArchlibError, match="cannot be read"):
        results.load(tmp_path / "missing.csv")


def test_knob_text_round_trips():
    assert results.format_knobs({"width": 0.75, "resolution": 192}) == "width=0.75;resolution=192"
    assert results.parse_knobs("mobilenet_v2", "width=0.75;resolution=192") == {"width": 0.75, "resolution": 192}
    assert results.parse_knobs("mobilenet_v2", "") == {}
