"""The graph's URL keys: `expand` and `focus` parsed against the model, bad names named and dropped."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

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
    view, msgs = state.decode({"model": "mobilenet_v2", "expand": "s" * (keys.MAX_EXPAND + 1)})
    assert view.params["expand"] == "" and f"at most {keys.MAX_EXPAND} characters" in msgs[0]


@pytest.mark.parametrize("ev,want", [
    ({"action": "toggle", "name": "s3"}, (("s2.b1", "s3"), "s3", "")),
    ({"action": "toggle", "name": "s2.b1"}, ((), "s2.b1", "")),
    ({"action": "toggle", "name": "s3.b1.dw.conv"}, (("s2.b1",), "s3.b1.dw.conv", "")),  # an op: selected only
    ({"action": "select", "name": "s4.b2"}, (("s2.b1",), "s4.b2", "")),
    ({"action": "clear", "name": ""}, (("s2.b1",), "", "")),
    ({"action": "toggle", "name": "s99"}, (("s2.b1",), "s1.b1", "")),  # not in the model: nothing changes
])
def test_a_click_changes_expand_and_focus(ev, want):
    assert keys.apply_click(ev, ("s2.b1",), "s1.b1", GROUPS, NAMES) == want


@pytest.mark.parametrize("ev", [None, "s2", {"action": "eval", "name": "s2"}, {"action": "toggle", "name": 3},
                                {"action": "toggle"}, {"action": "select", "name": "x" * (keys.MAX_NAME + 1)}])
def test_malformed_clicks_are_refused(ev):
    from app.ui.graph.component import parse_click

    assert parse_click(ev) is None


# -- every view made by clicking reopens from its link ---------------------------------------------
P, B, U, V = "P" * 80, "B" * 78, "U" * 80, "V" * 80  # parts as long as an import keeps (MAX_PART)


@pytest.fixture
def long_names(tmp_path, monkeypatch):
    """An upload whose names are as long as an import makes them: 14 blocks of 161 characters (more than a
    link keeps expanded at once), ops of 247, and ops of 328 (longer than any selection a link keeps)."""
    from onnx_graphs import N, model

    from archlib.importers import models

    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db" / "results.sqlite"))
    nodes, prev = [], "x"
    for k in range(14):
        for j, name in enumerate((f"/{P}/{B}{k:02d}/{U}/conv", f"/{P}/{B}{k:02d}/{U}/act",
                                  f"/{P}/{B}{k:02d}/{U}/{V}/deep")):
            nodes.append(N("Relu", [prev], [f"t{k}_{j}"], name=name))
            prev = f"t{k}_{j}"
    nodes.append(N("Relu", [prev], ["y"], name="/head/out"))
    name = models.upload(model(nodes).SerializeToString(), "long.onnx")
    g = op_graph(archlib.analyze(name))
    groups = tuple(expandable(g))
    assert len(keys.join(groups)) > keys.MAX_EXPAND and max(map(len, g.nodes)) > keys.MAX_NAME
    return name, groups, frozenset(groups) | set(g.nodes) - {"input"}


def _reopens(page: str, model: str, expand: tuple[str, ...], focus: str, groups, names) -> None:
    """The view's link, decoded as a new session does, gives back the same expansion and selection."""
    view = state.defaults(page, model)
    view.params |= {"expand": keys.join(expand), "focus": focus}
    back, msgs = state.decode(state.encode(view), page=page)
    assert msgs == []
    assert keys.parse_expand(back.params["expand"], groups, model=model) == (expand, [])
    assert keys.parse_focus(back.params["focus"], names, model=model) == (focus, [])


def _click(action: str, name: str, expand, focus, groups, names):
    from app.ui.graph.component import parse_click

    ev = parse_click({"action": action, "name": name})  # as the browser's event arrives
    return (expand, focus, "") if ev is None else keys.apply_click(ev, expand, focus, groups, names)


def test_expanding_every_group_by_clicking_stops_at_what_a_link_keeps(long_names):
    model, groups, names = long_names
    expand, focus, notes = (), "", []
    for g in groups:
        expand, focus, note = _click("toggle", g, expand, focus, groups, names)
        notes += [note] if note else []
        _reopens(state.EXPLORE, model, expand, focus, groups, names)
    assert len(keys.join(expand)) <= keys.MAX_EXPAND < len(keys.join(groups))
    assert notes and "was not expanded: the 12 groups already expanded fill the 2,000 characters" in notes[0]
    deep = next(n for n in names if len(n) > keys.MAX_NAME)
    assert _click("select", deep, expand, focus, groups, names)[:2] == (expand, focus)  # not selectable


@pytest.mark.parametrize("page", [state.EXPLORE, state.COMPARE])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clicks=hst.lists(hst.tuples(hst.sampled_from(["toggle", "toggle", "select", "clear"]),
                                   hst.booleans(), hst.integers(0, 10 ** 6)), max_size=40))
def test_any_view_reached_by_clicking_reopens_from_its_link(long_names, page, clicks):
    model, groups, names = long_names
    pool = sorted(names)
    expand, focus = (), ""
    for action, on_group, i in clicks:
        name = groups[i % len(groups)] if on_group else pool[i % len(pool)]
        expand, focus, _ = _click(action, name, expand, focus, groups, names)
        _reopens(page, model, expand, focus, groups, names)
