"""Memory estimates: liveness over the IR, views, attention scratch, batch and dtype scaling."""
from __future__ import annotations

import pytest

import archlib
from archlib.errors import ArchlibError


def test_lenet_inference_peak_by_hand():
    # conv1's output (6x30x30 = 5400) and relu1's output alive together is the peak
    m = archlib.analyze("lenet").memory(batch=1, dtype="float32")
    assert m["inference_activations_peak"] == 2 * 5400 * 4
    assert m["weights"] == 81194 * 4
    # flatten is a view: saved activations are every other op's output
    a = archlib.analyze("lenet")
    saved = sum(r.cost.out_elems for r in a.rows if r.op != "flatten")
    assert m["training_saved_activations"] == saved * 4
    assert m["training_total"] == 81194 * 4 * 3 + saved * 4  # weights, grads, momentum


def test_batch_and_dtype_scale_activations_not_weights():
    a = archlib.analyze("mobilenet_v2")
    m1, m8 = a.memory(batch=1), a.memory(batch=8, dtype="float16")
    assert m8["inference_activations_peak"] == m1["inference_activations_peak"] * 8 // 2
    assert m8["weights"] == m1["weights"] // 2


def test_softmax_attention_holds_its_score_matrix():
    a = archlib.analyze("vit_b_16")
    scores = 12 * 197 * 197
    qkv = 197 * 3 * 768
    # at an attention op: its input (qkv), the residual stream, its output and the scores are live
    assert a.memory()["inference_activations_peak"] >= (scores + qkv + 197 * 768) * 4


@pytest.mark.parametrize("kw,needle", [
    ({"batch": 0}, r"batch=0 is not allowed \(out of range\): batch must be an integer in \[1, 65536\]"),
    ({"dtype": "float8"}, "dtype='float8'"),
    ({"optimizer": "lion"}, "optimizer='lion'"),
    # the wrong types raise ArchlibError naming the type expected, not TypeError, and a bool is no batch size
    ({"optimizer": [1]}, r"optimizer=\[1\] is not allowed \(a list where the Python API takes a str\): "
                         "optimizer must be one of sgd"),
    ({"dtype": {"a": 1}}, r"dtype=\{'a': 1\} is not allowed \(a dict where the Python API takes a str\)"),
    ({"batch": True}, r"batch=True is not allowed \(a bool where the Python API takes an int\)"),
    ({"batch": "8"}, r"batch='8' is not allowed \(a str where the Python API takes an int"),
    ({"batch": 10 ** 400}, r"batch=1000.* is not allowed \(out of range\)"),
])
def test_bad_memory_arguments(kw, needle):
    with pytest.raises(ArchlibError, match=needle):
        archlib.analyze("lenet").memory(**kw)


def test_crosscheck_refuses_what_would_not_fit_before_building():
    from archlib.hardware.host import available_memory
    from archlib.views.crosscheck import check_fits

    check_fits(archlib.analyze("lenet"), available=available_memory("cpu"))
    with pytest.raises(ArchlibError, match="MiB available here"):
        check_fits(archlib.analyze("regnet_y_128gf"), available=available_memory("cpu"), fraction=1e-6)


def test_per_layer_activation_bytes_are_float32_outputs_and_views_are_free():
    a = archlib.analyze("lenet")
    rows = {r.name: r for r in a.rows}
    assert rows["conv1"].activation_bytes == 6 * 30 * 30 * 4
    assert rows["flatten"].activation_bytes == 0
    assert rows["conv1"].as_dict()["activation_bytes"] == 21_600
