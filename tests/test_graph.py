"""The graph views: DOT/SVG rendering, shared colour scales, labels and bad options."""
from __future__ import annotations

import pytest

import archlib
from archlib.views.blockgraph import _PALETTE, to_dot, to_svg


def test_dot_renders_to_svg_with_every_block():
    g = archlib.graph("mobilenet_v2", level="block")
    svg = to_svg(to_dot(g)).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for name in ("stem", "s2.b2", "head"):
        assert f">{name}<" in svg


def test_shared_scale_lightens_the_smaller_graph():
    small = archlib.graph("mobilenet_v2", level="block", width=0.5)
    big = archlib.graph("mobilenet_v2", level="block", width=1.4)
    top = max(d["macs"] for _, d in big.nodes(data=True))
    darkest = _PALETTE[-1]
    assert darkest in to_dot(small)  # on its own scale its largest block is darkest
    assert darkest not in to_dot(small, top=top)  # on the big one's scale it is not


@pytest.mark.parametrize("kw,needle", [({"color_by": "weight"}, "color_by='weight'"),
                                        ({"rankdir": "RL"}, "rankdir='RL'")])
def test_bad_options_name_the_value(kw, needle):
    with pytest.raises(archlib.ArchlibError, match=needle):
        to_dot(archlib.graph("lenet"), **kw)


def test_names_with_markup_are_escaped():
    g = archlib.graph("lenet", level="op")
    dot = to_dot(g)
    assert dot.count("digraph") == 1 and "<b>conv1</b>" in dot
