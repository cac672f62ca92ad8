"""The graph views: DOT/SVG rendering, shared colour scales, labels and bad options."""
from __future__ import annotations

import pytest

import archlib
from archlib.views.blockgraph import to_dot, to_svg
from archlib.views.graphsvg import scale


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
    darkest = scale(top)[-1][0]  # the legend's last class
    assert darkest in to_dot(small)  # on its own scale its largest block is darkest
    assert darkest not in to_dot(small, top=top)  # on the big one's scale it is not


@pytest.mark.parametrize("kw,needle", [({"color_by": "weight"}, "color_by='weight'"),
                                        ({"rankdir": "RL"}, "rankdir='RL'")])
def test_bad_options_name_the_value(kw, needle):
    with pytest.raises(archlib.ArchlibError, match=needle):
        to_dot(archlib.graph("lenet"), **kw)


def test_names_with_markup_are_escaped():
    """Op names are data (an imported model may name a node anything): in the DOT label and tooltip and
    in the SVG they arrive as text, never as markup."""
    import xml.etree.ElementTree as ET

    from archlib.core.analysis import Analysis
    from archlib.core.ir import IRBuilder
    from archlib.views.blockgraph import op_graph

    b = IRBuilder((3, 8, 8))
    names = ('<b>evil</b>&"q"', "x]{}<tr><td>", "a>b")
    x = b.input
    x = b.conv(names[0], x, 4, 3)
    x = b.act(names[1], x, "relu")
    b.act(names[2], x, "relu")
    dot = to_dot(op_graph(Analysis.of("m", {}, b.finish())))
    assert dot.count("digraph") == 1 and "<b>input</b>" in dot
    for raw in names:
        assert raw not in dot
    assert "<b>&lt;b&gt;evil&lt;/b&gt;&amp;&quot;q&quot;</b>" in dot and "x]{}&lt;tr&gt;&lt;td&gt;" in dot
    texts = ["".join(t.itertext()) for t in ET.fromstring(to_svg(dot)).iter("{http://www.w3.org/2000/svg}text")]
    assert all(raw in texts for raw in names)  # shown as the very characters of the name


@pytest.mark.parametrize("level,why", [([1], "a list"), ({"a": 1}, "a dict"), (True, "a bool"), (False, "a bool"),
                                       (1.0, "a float"), (None, "a NoneType"), (10 ** 400, "out of range"),
                                       (0, "out of range"), ("galaxy", "")])
def test_levels_are_validated_like_knobs(level, why):
    """graph, by_group and collapse share one validator: a clear ArchlibError, never a TypeError."""
    from archlib.views.blockgraph import collapse, op_graph

    needle = f"level={level!r}"[:18].replace("[", r"\[").replace("(", r"\(").replace("{", r"\{")
    a = archlib.analyze("resnet50")
    for call in (lambda: archlib.graph("resnet50", level=level), lambda: a.by_group(level),
                 lambda: collapse(op_graph(a), level)):
        with pytest.raises(archlib.ArchlibError, match=needle) as e:
            call()
        assert why in str(e.value) and "stage, block, unit, op or a depth, an integer in [1, 32]" in str(e.value)


def test_a_depth_is_an_int_and_depth_one_is_the_stage_level():
    stage = archlib.graph("resnet50", level="stage")
    assert len(archlib.graph("resnet50", level=1)) == len(stage) == 7  # input, stem, s1..s4, head
    assert [k for k, _ in archlib.analyze("resnet50").by_group(1)] == [k for k, _ in
                                                                       archlib.analyze("resnet50").by_group("stage")]
