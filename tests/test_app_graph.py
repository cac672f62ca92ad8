"""The live graph on the Explore and Compare pages under AppTest: links with expand/focus,
what the component is given, the selection's rows, and the layer table linked to it."""
from __future__ import annotations

import base64
import json
import os
import random
import socket
import threading
import time

import pytest
from app_support import run, warnings
from onnx_graphs import N
from onnx_graphs import model as onnx_model

import archlib
from app.ui import cache, state
from archlib.importers import models
from archlib.views import graphdot


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


# -- layouts: bounded, shared between sessions, a refusal kept ------------------------------------------
def _sessions(n: int, call) -> list[object]:
    """`call` from n threads at once (n sessions opening one link); what each got, value or exception."""
    gate, out = threading.Barrier(n), [None] * n

    def one(i: int) -> None:
        gate.wait()
        try:
            out[i] = call()
        except Exception as e:  # noqa: BLE001 - the test compares what each session got
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'


@pytest.fixture
def dot_calls(monkeypatch):
    """dot replaced by a slow stand-in that counts its runs; what it does next is set by the test."""
    calls: list[str] = []
    behaviour = {"result": SVG}

    def fake(data, fmt, timeout, memory):
        calls.append(fmt)
        time.sleep(0.3)
        if isinstance(behaviour["result"], Exception):
            raise behaviour["result"]
        return behaviour["result"]
    monkeypatch.setattr(graphdot, "_run", fake)
    cache._svg.clear()
    cache._png.clear()
    cache.page_svg.cache_clear()
    yield calls, behaviour
    cache._svg.clear()
    cache._png.clear()
    cache.page_svg.cache_clear()


ITEMS = (("width", 0.35), ("resolution", 96))


def test_many_sessions_opening_one_new_view_run_dot_once(dot_calls):
    calls, _ = dot_calls
    got = _sessions(6, lambda: cache.graph_svg("mobilenet_v2", ITEMS, "block", "macs", "TB"))
    assert calls == ["svg"] and all(g == got[0] for g in got) and b"data-total-macs" in got[0]
    got = _sessions(4, lambda: cache.graph_png("mobilenet_v2", ITEMS, "block", "macs", "TB"))
    assert calls == ["svg", "png"] and got == [SVG] * 4


def test_a_stopped_layout_is_kept_so_no_session_starts_it_again(dot_calls):
    calls, behaviour = dot_calls
    behaviour["result"] = archlib.ArchlibError("Graphviz's dot took longer than 30 s to lay out this graph")
    got = _sessions(6, lambda: cache.graph_svg("mobilenet_v2", ITEMS, "unit", "macs", "TB"))
    assert calls == ["svg"] and all(isinstance(g, archlib.ArchlibError) and "longer than 30 s" in str(g) for g in got)
    with pytest.raises(archlib.ArchlibError, match="longer than 30 s"):
        cache.graph_svg("mobilenet_v2", ITEMS, "unit", "macs", "TB")  # a later session: the kept answer
    assert calls == ["svg"]


def test_busy_is_not_kept(dot_calls):
    calls, behaviour = dot_calls
    behaviour["result"] = graphdot.LayoutBusy("Graphviz's dot is busy")
    with pytest.raises(graphdot.LayoutBusy):
        cache.graph_svg("mobilenet_v2", ITEMS, "stage", "macs", "TB")
    behaviour["result"] = SVG
    assert b"data-total-macs" in cache.graph_svg("mobilenet_v2", ITEMS, "stage", "macs", "TB")
    assert calls == ["svg", "svg"]


def skip_chain(n: int, scope: str = ""):
    """The reviewer's file: Relu, then h[i] = h[i-1] + h[j] (j random), node names `<scope>n<i>`."""
    rng = random.Random(0)
    nodes = [N("Relu", ["x"], ["h0"], name=f"{scope}n0")]
    for i in range(1, n):
        nodes.append(N("Add", [f"h{i - 1}", f"h{rng.randrange(i)}"], [f"h{i}" if i < n - 1 else "y"],
                       name=f"{scope}n{i}"))
    return onnx_model(nodes)


@pytest.fixture
def laid_out(monkeypatch):
    """The node names of every graph handed to dot."""
    seen: list[str] = []
    real = graphdot._run

    def spy(data, fmt, timeout, memory):
        seen.append(data.decode())
        return real(data, fmt, timeout, memory)
    monkeypatch.setattr(graphdot, "_run", spy)
    return seen


@pytest.fixture
def flat(tmp_path, monkeypatch):
    """Two uploads of 2,400 ops with random skips: names without scopes, and all under one scope `a`."""
    monkeypatch.setenv("ARCHLIB_DB", str(tmp_path / "db" / "results.sqlite"))
    return (models.upload(skip_chain(2400).SerializeToString(), "flat.onnx"),
            models.upload(skip_chain(2400, "/a/").SerializeToString(), "scoped.onnx"))


def infos(at) -> str:
    return "\n".join(i.value.replace("\\", "") for i in at.info)


def test_a_graph_too_large_to_lay_out_is_refused_before_dot_on_explore(flat, laid_out):
    at = run(model=flat[0])
    assert "The block-level graph has 2,401 boxes and 4,785 arrows, and the arrows pass 1,428,180 rows" in infos(at)
    assert "past that). No level draws this model: even its stage-level graph is too large" in infos(at)
    assert graph_data(at) == [] and not [b for b in at.get("download_button")] and laid_out == []
    assert any("Per stage" in (m.proto.help or "") for m in at.markdown)  # the stage table is still there


def test_too_many_expanded_groups_offer_to_collapse_them(flat, laid_out):
    at = run(model=flat[1], level="stage", expand="a")
    assert "The stage-level graph with 1 group expanded has 2,401 boxes" in infos(at)
    assert "Collapse some expanded groups" in infos(at) and graph_data(at) == [] and laid_out == []
    at.button(key="graph_explore.collapse_all").click().run()
    (data,) = graph_data(at)
    assert 'data-name="a"' in data["svg"] and "expand" not in at.query_params and len(laid_out) == 1


def test_a_real_graph_past_the_limit_asks_for_a_coarser_level(laid_out):
    at = run(model="efficientnet_v2_l", depth="2", level="op")  # 2,035 ops: 2.7 s in dot, refused now
    assert "The op-level graph has 2,035 boxes and 2,308 arrows, and the arrows pass 2,416 rows" in infos(at)
    assert "Choose a coarser level (unit, block or stage)." in infos(at) and laid_out == []


def test_compare_refuses_one_graph_and_draws_the_other(flat, laid_out):
    at = run("compare", model=flat[0], m2="mobilenet_v2")
    assert "The stage-level graph has 2,401 boxes" in infos(at) and "share no prefixes" in infos(at)
    (data,) = graph_data(at)
    assert 'data-name="s2"' in data["svg"] and len(laid_out) == 1 and '"n-s2"' in laid_out[0]


def test_the_server_does_not_compress_its_websocket():
    """Per-message deflate of the live graph's SVG (1.27 MB at B7's op level) cost more server CPU per
    session than the rest of the page (benchmarks/bench_load.py): .streamlit/config.toml turns it off,
    so the server declines a browser's offer of it."""
    from browser_support import app_server

    with app_server("server_compression.log") as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\n"
                       f"Sec-WebSocket-Extensions: permessage-deflate\r\nOrigin: {url}\r\n\r\n").encode())
            head = s.recv(4096).decode(errors="replace").split("\r\n\r\n")[0].lower()
    assert head.startswith("http/1.1 101") and "permessage-deflate" not in head
