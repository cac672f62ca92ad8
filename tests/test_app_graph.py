"""The live graph on the Explore and Compare pages under AppTest: links with expand/focus,
what the component is given, the selection's rows, and the layer table linked to it."""
from __future__ import annotations

import json

from test_app_pages import run, warnings

import archlib
from app.ui import state


def graph_data(at) -> list[dict]:
    """What each live graph component on the page was given."""
    return [json.loads(e.proto.json) for e in at.get("bidi_component")]


def test_expand_link_draws_the_group_in_place_and_names_bad_values():
    at = run(model="mobilenet_v2", expand="s2.b1,s9.b1", focus="s2.b1.dw")
    assert "expand: 's9.b1' is not a stage, block or unit of mobilenet_v2; ignored" in warnings(at)
    (data,) = graph_data(at)
    svg = data["svg"]
    assert 'id="c&#45;s2.b1" class="cluster"' in svg  # the block is a frame around its units
    for unit in ("s2.b1.expand", "s2.b1.dw", "s2.b1.project"):
        assert f'data-name="{unit}"' in svg
    assert 'id="n&#45;s2.b2" class="node"' in svg and 'id="n&#45;s2.b1" class="node"' not in svg
    assert data["focus"] == "s2.b1.dw" and not svg.startswith("<?xml") and "<title>" not in svg
    assert at.query_params["expand"] == "s2.b1" and at.query_params["focus"] == "s2.b1.dw"
    rows = [r for r in archlib.analyze("mobilenet_v2").rows if r.name.startswith("s2.b1.dw.")]
    assert any(f"Selected: `s2.b1.dw`** · {len(rows)} layers" in m.value for m in at.markdown)


def test_same_structure_keeps_its_signature_across_a_knob_change():
    at = run(model="mobilenet_v2")
    before = graph_data(at)[0]
    at.slider(key=state.knob_key("mobilenet_v2", "resolution")).set_value(160).run()
    after = graph_data(at)[0]
    assert after["sig"] == before["sig"] and after["svg"] != before["svg"]  # new numbers, same boxes: zoom kept
    at.slider(key=state.knob_key("mobilenet_v2", "width")).set_value(0.5).run()
    assert graph_data(at)[0]["sig"] == before["sig"]


def test_layer_table_shades_and_filters_the_selection():
    at = run(model="mobilenet_v2", view="layers", focus="s3.b2")
    assert any("Rows of `s3.b2` (selected in the graph) are shaded" in c.value for c in at.caption)
    at.toggle(key="layers_only_focus").set_value(True).run()
    table = next(d.value for d in at.dataframe if "op" in d.value.columns)  # the layer table (not the stage table)
    names = list(table["name"])
    want = [r.name for r in archlib.analyze("mobilenet_v2").rows if r.name.startswith("s3.b2.")]
    assert names == want


def test_compare_graphs_share_expansion_and_selection():
    at = run("compare", model="efficientnet_b0", m2="efficientnet_b3", level="block", expand="s4.b1,s7.b2",
             focus="s4.b1.se")
    first, second = graph_data(at)
    for data in (first, second):
        assert 'id="c&#45;s4.b1" class="cluster"' in data["svg"] and data["focus"] == "s4.b1.se"
    assert "c&#45;s7.b2" not in first["svg"] and 'id="c&#45;s7.b2"' in second["svg"]  # B0's s7 has one block
    assert at.query_params["expand"] == "s4.b1,s7.b2"
