"""The graph's URL keys: `expand` and `focus` parsed against the model, bad names named and dropped."""
from __future__ import annotations

import pytest

import archlib
from app.ui import state
from app.ui.graph import keys
from archlib.views.blockgraph import expandable, op_graph

GROUPS = tuple(expandable(op_graph(archlib.analyze("mobilenet_v2"))))
NAMES = frozenset(GROUPS) | {r.name for r in archlib.analyze("mobilenet_v2").rows}


def test_good_names_kept_in_model_order():
    expand, msgs = keys.parse_expand("s4, s2.b1,,s2.b1", GROUPS, model="mobilenet_v2")
    assert expand == ("s2.b1", "s4") and msgs == []


@pytest.mark.parametrize("bad", ["s9", "s2.b1.dw.conv", "<script>", "s2.b1;drop", "x" * 80])
def test_bad_names_are_named_and_dropped(bad):
    expand, msgs = keys.parse_expand(f"s2.b1,{bad},s4", GROUPS, model="mobilenet_v2")
    assert expand == ("s2.b1", "s4")
    assert len(msgs) == 1 and "is not a stage, block or unit of mobilenet_v2; ignored" in msgs[0]
    assert repr(bad[:40])[1:-1] in msgs[0]


def test_many_bad_names_are_summarised():
    _, msgs = keys.parse_expand(",".join(f"z{i}" for i in range(9)), GROUPS, model="m")
    assert len(msgs) == 6 and msgs[-1] == "expand: 4 more unknown names ignored."


def test_focus_names_an_op_or_group():
    assert keys.parse_focus("s3.b2.dw.conv", NAMES, model="mobilenet_v2") == ("s3.b2.dw.conv", [])
    assert keys.parse_focus(" s3 ", NAMES, model="mobilenet_v2") == ("s3", [])
    name, msgs = keys.parse_focus("s3.b99", NAMES, model="mobilenet_v2")
    assert name == "" and msgs == ["focus: 's3.b99' is not a layer or group of mobilenet_v2; nothing is selected."]


def test_toggle_collapses_a_group_with_its_inner_groups():
    opened = keys.toggle(("s2.b1", "s2.b1.dw"), "s3", GROUPS)
    assert opened == ("s2.b1", "s2.b1.dw", "s3")
    assert keys.toggle(opened, "s2.b1", GROUPS) == ("s3",)


def test_the_explore_schema_carries_both_keys():
    view, msgs = state.decode({"model": "mobilenet_v2", "expand": "s2.b1,s4", "focus": "s2.b1.dw"})
    assert msgs == [] and view.params["expand"] == "s2.b1,s4" and view.params["focus"] == "s2.b1.dw"
    assert state.encode(view) == {"model": "mobilenet_v2", "expand": "s2.b1,s4", "focus": "s2.b1.dw"}
    view, msgs = state.decode({"model": "mobilenet_v2", "expand": "s" * 2000})
    assert view.params["expand"] == "" and "at most 1000 characters" in msgs[0]


@pytest.mark.parametrize("ev,want", [
    ({"action": "toggle", "name": "s3"}, (("s2.b1", "s3"), "s3")),
    ({"action": "toggle", "name": "s2.b1"}, ((), "s2.b1")),
    ({"action": "toggle", "name": "s3.b1.dw.conv"}, (("s2.b1",), "s3.b1.dw.conv")),  # an op: selected only
    ({"action": "select", "name": "s4.b2"}, (("s2.b1",), "s4.b2")),
    ({"action": "clear", "name": ""}, (("s2.b1",), "")),
    ({"action": "toggle", "name": "s99"}, (("s2.b1",), "s1.b1")),  # not in the model: nothing changes
])
def test_a_click_changes_expand_and_focus(ev, want):
    assert keys.apply_click(ev, ("s2.b1",), "s1.b1", GROUPS, NAMES) == want


@pytest.mark.parametrize("ev", [None, "s2", {"action": "eval", "name": "s2"}, {"action": "toggle", "name": 3},
                                {"action": "toggle"}, {"action": "select", "name": "x" * 301}])
def test_malformed_clicks_are_refused(ev):
    from app.ui.graph.component import parse_click

    assert parse_click(ev) is None
