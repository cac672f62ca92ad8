"""Golden numbers: canonical configurations against shared/reference (bundled in archlib/data)."""
from __future__ import annotations

import csv
from importlib import resources

import pytest

import archlib

MODELS = set(archlib.list_models())


def _rows(fname: str) -> list[dict[str, str]]:
    with resources.files("archlib.data").joinpath(fname).open() as f:
        return list(csv.DictReader(f))


TV = _rows("torchvision_reference.csv")


@pytest.mark.parametrize("row", TV, ids=[f"{r['builder']}-{r['weights'].split('.')[-1]}" for r in TV])
def test_torchvision_params_and_gmacs_exact(row):
    """Exact num_params, and GMACs equal to torchvision's GFLOPS to the printed precision."""
    assert row["builder"] in MODELS, f"{row['builder']} is not registered"
    knobs = {"resolution": int(row["eval_crop"])}
    a = archlib.analyze(row["builder"], **knobs)
    t = a.totals()
    assert t["params"] == int(row["num_params"])
    assert round(t["macs"] / 1e9, 3) == pytest.approx(float(row["gflops_reported"]), abs=1e-9)


def test_lenet_matches_seed_fvcore_example():
    """The seed: FlopCountAnalysis total 274,656 and its by-module-and-operator table.

    (The seed's torch traced nn.Linear as `addmm`; current torch traces it as `linear`.)
    """
    a = archlib.analyze("lenet")
    assert a.totals()["fvcore"] == 274_656
    seed = {"": {"conv": 194616, "addmm": 80040}, "conv1": {"conv": 48600}, "conv2": {"conv": 146016},
            "fc1": {"addmm": 69120}, "fc2": {"addmm": 10080}, "fc3": {"addmm": 840}}
    ours = {k: dict(v) for k, v in a.by_module_and_operator().items()}
    renamed = {k: {("addmm" if op == "linear" else op): n for op, n in v.items()} for k, v in ours.items()}
    assert renamed == seed
