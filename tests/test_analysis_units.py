"""Human units: rounding never prints 1000 of a unit or an exponent."""
from __future__ import annotations

import pytest

from archlib.core.analysis import human


@pytest.mark.parametrize("n,text", [(0, "0"), (999, "999"), (999.96, "1K"), (1234, "1.23K"), (999_600, "1M"),
                                    (999_700_000, "1G"), (5.29e6, "5.29M"), (65.7e9, "65.7G"), (1e15, "1,000T")])
def test_human(n, text):
    assert human(n) == text
