"""Predicted latency of any analysis on this host, from its calibrated latency model.

Nothing is built or run: the prediction reads the analysis's ops (a registered model, a
custom stage table or an imported model alike) and sums the per-op model's times plus the
framework's overhead. No torch import: a prediction is as live as the MACs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import archlib
from archlib.core.analysis import Analysis
from archlib.core.roofline import bound, totals, traffic
from archlib.hardware.latency import calibrate
from archlib.hardware.latency.latmodel import LatencyModel, LayerPrediction, check_batch, predict_layers


@dataclass(frozen=True)
class Prediction:
    """A predicted forward pass: the total, each layer's share, and what it was predicted for."""

    analysis: Analysis
    batch: int
    latency_ms: float  # = sum of the layers' predicted_ms + framework_ms
    framework_ms: float  # the built module's calls per forward and per name group
    layers: tuple[LayerPrediction, ...]
    model: LatencyModel

    @property
    def by_name(self) -> dict[str, float]:
        return {lp.name: lp.predicted_ms for lp in self.layers}

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (CLI `predict --json`)."""
        a, m = self.analysis, self.model
        tot = totals(traffic(a, batch=self.batch, dtype=m.settings["dtype"]))
        return {
            "model": a.model, "config": a.config, "batch": self.batch, "settings": m.settings,
            "host_id": m.host_id, "host": {k: m.host.get(k) for k in ("hostname", "cpu", "torch", "device")},
            "latency_ms": self.latency_ms, "framework_ms": self.framework_ms,
            "macs": a.totals()["macs"] * self.batch, "flops": tot["flops"], "ops": tot["ops"], "bytes": tot["bytes"],
            "intensity": tot["intensity"], "bound": bound(tot["intensity"], m.peak_ops, m.bandwidth),
            "peaks": {"ops_per_s": m.peak_ops, "bytes_per_s": m.bandwidth},
            "calibration": {k: m.info.get(k) for k in ("created", "samples", "plan_done", "planned", "complete")},
            "conventions": "latency_ms = sum(layers.predicted_ms) + framework_ms; bytes = (inputs + outputs) x batch "
                           "+ weights, x dtype bytes; intensity = (2 x MACs + elementwise) / bytes; bound by the "
                           "roofline of this host's measured peaks (overhead: a view that moves nothing)",
            "layers": [lp.as_dict() for lp in self.layers],
        }


def predict_analysis(a: Analysis, model: LatencyModel, *, batch: int = 1) -> Prediction:
    """The prediction of analysis `a` by latency model `model` (no store, no torch)."""
    layers, rest = predict_layers(model, a, batch=check_batch(batch))
    return Prediction(a, batch, sum(lp.predicted_ms for lp in layers) + rest, rest, tuple(layers), model)


def load_model(*, store: Any = None, **settings: Any) -> LatencyModel:
    """This host's latency model for `settings` (device, threads, dtype, backend, channels_last);
    archlib.hardware.latency.calibrate.NotCalibrated, saying how to calibrate, when there is none."""
    from archlib.hardware.store import Store

    return calibrate.load(store or Store(), **settings)


def predict(target: str | Analysis, knobs: Mapping[str, Any] | None = None, *, batch: int = 1, store: Any = None,
            model: LatencyModel | None = None, **settings: Any) -> Prediction:
    """Predicted latency of `target` (a model name with `knobs`, or any Analysis) on this host."""
    a = target if isinstance(target, Analysis) else archlib.analyze(target, **dict(knobs or {}))
    return predict_analysis(a, model or load_model(store=store, **settings), batch=batch)
