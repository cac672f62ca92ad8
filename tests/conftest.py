"""Shared test helpers: small configurations of every registered model."""
from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import archlib
from archlib.core import registry

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

#: models whose real build is slow (hundreds of MB of weights): their real-tensor tests are marked slow
HUGE_PARAMS = 200_000_000


def small_config(name: str) -> dict[str, Any]:
    """A configuration with the smallest test resolution the model allows (>= 64 px)."""
    knobs = {k.name: k for k in registry.get(name).knobs}
    if "resolution" in knobs:
        lo = int(knobs["resolution"].lo)
        return {"resolution": max(lo, 64)}
    return {}


MODELS = archlib.list_models()


@pytest.fixture(params=MODELS)
def model_name(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _own_layouts(monkeypatch):
    """Each test lays out its graphs anew: a layout kept from another test (or a stubbed dot) is not reused."""
    from archlib.views import graphreuse

    monkeypatch.setattr(graphreuse, "LAYOUTS", graphreuse.Layouts())
