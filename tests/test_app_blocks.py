"""The Concepts page's building blocks: each block's output and cost, by hand."""
from __future__ import annotations

import pytest

from app.concepts import blocks


@pytest.mark.parametrize("t", [1, 4])
def test_fused_mbconv_outputs_n_channels(t):
    m, n, k, size = 32, 64, 3, 56
    a = blocks.fused_mbconv(m, n, t, k, size, 0)
    assert a.output_shape == (n, size, size)
    hidden = m * t if t > 1 else n
    expected = size * size * hidden * m * k * k + (size * size * n * hidden if t > 1 else 0)
    assert a.totals()["macs"] == expected
