"""The app's URL codec (app/state.py): unit tests and hypothesis fuzzing of hostile query strings.

The codec is pure Python: these tests need no Streamlit runtime.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archlib
from app.ui import schema, state

FAST_MODELS = [m for m in ("lenet", "mobilenet_v1", "mobilenet_v2") if m in archlib.list_models()]


def test_empty_query_gives_defaults_for_every_page():
    for page in state.PAGES:
        view, messages = state.decode({}, page=page)
        assert messages == []
        assert view.model == state.default_model()
        assert view.knobs == archlib.config(view.model)
        assert view.params == {p.name: p.default for p in schema.page_params(page)}
        slots = {f"m{i}": m for i, (m, _) in enumerate(view.others, 2)}  # slot models are always written
        assert state.encode(view) == {"model": view.model, **slots}


def test_knobs_are_parsed_and_round_trip():
    view, messages = state.decode({"model": "mobilenet_v2", "width": "0.5", "resolution": "160", "level": "op"})
    assert messages == []
    assert view.knobs == archlib.config("mobilenet_v2", width=0.5, resolution=160)
    assert view.params["level"] == "op"
    assert state.encode(view) == {"model": "mobilenet_v2", "width": "0.5", "resolution": "160", "level": "op"}
    again, _ = state.decode(state.encode(view))
    assert again == view


def test_old_pareto_cfg_is_read_into_plain_knobs():
    """Links written before the one codec keep working: `cfg=name=value;...` becomes the plain knob keys."""
    view, messages = state.decode({"model": "mobilenet_v2", "cfg": "width=0.5;resolution=160"}, page=state.PARETO)
    assert messages == [] and view.knobs == archlib.config("mobilenet_v2", width=0.5, resolution=160)
    assert state.encode(view) == {"model": "mobilenet_v2", "width": "0.5", "resolution": "160"}
    view, messages = state.decode({"model": "mobilenet_v2", "cfg": "width=0.5;x;phi=2;resolution=9",
                                   "width": "0.75"}, page=state.PARETO)
    assert view.knobs == archlib.config("mobilenet_v2", width=0.75)  # a plain key wins; a bad value defaults
    assert [m[:11] for m in messages] == ["cfg: 'x' is", "cfg: 'phi=2", "resolution="]
    _, messages = state.decode({"model": "mobilenet_v2", "cfg": "width=0.5"}, page=state.EXPLORE)
    assert messages and messages[0].startswith("Unknown parameter cfg ignored")  # only Pareto ever wrote it


@pytest.mark.parametrize("page", state.KNOB_PAGES)
def test_knobs_are_spelled_the_same_on_every_page_that_carries_them(page):
    view, messages = state.decode({"model": "mobilenet_v2", "width": "0.5", "resolution": "160"}, page=page)
    assert messages == [] and view.knobs == archlib.config("mobilenet_v2", width=0.5, resolution=160)
    assert {k: v for k, v in state.encode(view).items() if k in ("width", "resolution")} == \
        {"width": "0.5", "resolution": "160"}


def _other_value(spec):
    """A valid value of `spec` that is not its default, as URL text."""
    if isinstance(spec, schema.TextParam):
        return {"q": "conv", "fam": "ResNet", "src": "paper", "budget": "400M", "expand": "s2.b1,s4",
                "focus": "s2.b1", "acc": "72.5"}[spec.name]
    if spec.kind == "text":  # a stage table: B0's with one kernel changed
        return "t1k3s1c16n1-t6k3s2c24n2-t6k7s2c40n2-t6k3s2c80n3-t6k5s1c112n3-t6k5s2c192n4-t6k3s1c320n1"
    if spec.kind == "choice":
        return state.fmt(next(c for c in spec.choices if c != spec.default))
    if spec.kind == "bool":
        return state.fmt(not spec.default)
    return state.fmt(spec.hi if spec.default != spec.hi else spec.lo)


@pytest.mark.parametrize("page", state.PAGES)
def test_every_page_parameter_round_trips_through_the_one_codec(page):
    """Each page's schema: every parameter set away from its default is read, written back, read again."""
    for spec in schema.page_params(page):
        query = {"model": "lenet", spec.name: _other_value(spec)}
        view, messages = state.decode(query, page=page)
        assert messages == [] and view.params[spec.name] != spec.default, (page, spec.name, messages)
        slots = {f"m{i}": m for i, (m, _) in enumerate(view.others, 2)}  # Compare's slot models are always written
        assert state.encode(view) == query | slots
        assert state.decode(state.encode(view), page=page)[0] == view


def test_a_query_over_the_cap_is_not_read_and_says_so():
    near = {"model": "mobilenet_v2", "width": "0.5", "q": "x" * (state.MAX_QUERY_CHARS - 60)}
    view, messages = state.decode(near)
    assert view.knobs["width"] == 0.5 and messages[0].startswith("q='xxx") and len(messages) == 1  # read
    over = near | {"q": "x" * state.MAX_QUERY_CHARS}
    view, messages = state.decode(over)
    assert len(messages) == 1 and f"at most {state.MAX_QUERY_CHARS:,} are read" in messages[0]
    assert view == state.defaults(state.EXPLORE)
    many = {f"k{i}": "v" * 50 for i in range(4000)}  # 200 KB of keys: one message, not 4,000
    assert len(state.decode(many, page=state.PARETO)[1]) == 1


def test_defaults_are_not_written():
    view, _ = state.decode({"model": "mobilenet_v2", "width": "1.0", "batch": "1"})
    assert state.encode(view) == {"model": "mobilenet_v2"}


@pytest.mark.parametrize("key,value,needle", [
    ("width", "9", "[0.1, 3]"),
    ("width", "abc", "not a number"),
    ("width", "nan", "not finite"),
    ("resolution", "1e400", "resolution"),
    ("resolution", "224.5", "not an integer"),
    ("batch", "0", "[1, 4096]"),
    ("dtype", "float128", "one of float32"),
    ("level", "__import__('os').system('x')", "one of stage, block, unit, op"),
])
def test_bad_values_are_named_with_their_range_and_defaulted(key, value, needle):
    view, messages = state.decode({"model": "mobilenet_v2", key: value})
    assert len(messages) == 1
    assert messages[0].startswith(f"{key}=") and needle in messages[0]
    assert view.model == "mobilenet_v2"
    assert view.knobs == archlib.config("mobilenet_v2")
    assert view.params == {p.name: p.default for p in schema.EXPLORE_PARAMS}


def test_unknown_model_falls_back_and_says_so():
    view, messages = state.decode({"model": "resnet9000", "width": "0.5"})
    assert view.model == state.default_model()
    assert view.knobs == archlib.config(view.model)
    assert any(m.startswith("model='resnet9000' is not a known model") for m in messages)


def test_unknown_parameter_is_reported_with_what_is_accepted():
    _, messages = state.decode({"model": "lenet", "colour": "red"})
    assert messages == [m for m in messages if "Unknown parameter colour" in m]
    assert "num_classes" in messages[0] and "level" in messages[0]


def test_reserved_streamlit_keys_are_silent():
    _, messages = state.decode({"embed": "true", "embed_options": "dark_theme"})
    assert messages == []


def test_impossible_combination_falls_back_to_the_model_defaults():
    view, messages = state.decode({"model": "efficientnet_b0", "phi": "8", "beta": "2"})
    assert view.knobs == archlib.config("efficientnet_b0")
    assert len(messages) == 1 and messages[0].startswith("phi, beta:")


def test_compare_slots():
    q = {"model": "lenet", "n": "3", "m2": "mobilenet_v2", "m2.width": "0.75", "m3": "nope", "m3.width": "0.5"}
    view, messages = state.decode(q, page=state.COMPARE)
    assert view.others[0] == ("mobilenet_v2", archlib.config("mobilenet_v2", width=0.75))
    assert view.others[1][0] == state.default_other("lenet", 3)
    assert any(m.startswith("m3='nope'") for m in messages)
    again, _ = state.decode(state.encode(view), page=state.COMPARE)
    assert again == view


def test_compare_knob_errors_name_the_slot_key():
    _, messages = state.decode({"model": "lenet", "m2": "mobilenet_v2", "m2.width": "7"}, page=state.COMPARE)
    assert messages[0].startswith("m2.width: width='7' is not allowed")


def test_scaling_budget_and_labs():
    view, messages = state.decode({"lab": "mobilenet", "mn_alpha": "0.5", "budget": "400M"}, page=state.SCALING)
    assert messages == []
    assert view.params["lab"] == "mobilenet" and view.params["mn_alpha"] == 0.5 and view.params["budget"] == "400M"
    _, messages = state.decode({"budget": "1 + 1"}, page=state.SCALING)
    assert messages[0].startswith("budget='1 + 1' is not allowed")


@pytest.mark.parametrize("text,value", [("400M", 4e8), ("1.5G", 1.5e9), ("2e9", 2e9), (" 12k ", 12e3), ("7", 7)])
def test_parse_amount(text, value):
    assert schema.parse_amount(text) == value


@pytest.mark.parametrize("text", ["", "0", "-1", "1e99", "1GG", "abc", "inf", "nan", "1_000", "(1)", "2**30"])
def test_parse_amount_rejects(text):
    with pytest.raises(archlib.ArchlibError, match="budget"):
        schema.parse_amount(text)


def test_seed_targets_the_widget_keys():
    view, _ = state.decode({"model": "mobilenet_v2", "width": "0.5", "level": "op"})
    seeded = state.seed(view)
    assert seeded[state.MODEL] == "mobilenet_v2"
    assert seeded[state.knob_key("mobilenet_v2", "width")] == 0.5
    assert seeded[state.param_key(state.EXPLORE, "level")] == "op"


def test_fmt_writes_clean_numbers():
    assert state.fmt(0.1 + 0.2) == "0.3"
    assert state.fmt(2.0) == "2"
    assert state.fmt(True) == "true"
    assert state.fmt(1.2345678901234) == "1.23456789012"


# -- fuzzing ---------------------------------------------------------------
HOSTILE = ["", " ", "nan", "inf", "-inf", "1e309", "-0", "0x10", "1_0", "١٢", "0.5\x00", "\n", "None", "True",
           "__import__('os').system('id')", "${7*7}", "{{7*7}}", "<script>alert(1)</script>",
           "[x](javascript:alert(1))", ":red[boom]", "$$x$$", "'; DROP TABLE x;--", "9" * 400, "é" * 50,
           "../../etc/passwd", "%00", "\u202e", "1e-400", "2.5", "0.5", "224", "block", "op", "efficientnet_b0"]


def _keys(models: list[str]) -> list[str]:
    keys = {state.MODEL, *state.RESERVED, "m2", "m3", "m4", "m2.width", "m3.phi"}
    for page in state.PAGES:
        keys |= {p.name for p in schema.page_params(page)}
    for m in models:
        keys |= {k.name for k in archlib.get_model(m).knobs}
    return sorted(keys)


def _values(models: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE + models), st.text(max_size=50),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.integers(-10**6, 10**6).map(str))


def _queries(models: list[str]) -> st.SearchStrategy[dict[str, str]]:
    key = st.one_of(st.sampled_from(_keys(models)), st.text(max_size=30))
    return st.dictionaries(key, _values(models), max_size=8)


def _check(query: dict[str, str], page: str) -> None:
    """No exception; the view is valid; every value not used as given is named in a message."""
    view, messages = state.decode(query, page=page)
    text = "\n".join(messages)
    assert view.model in archlib.list_models()
    archlib.analyze(view.model, **view.knobs)  # the fallback is always a working configuration
    specs = {p.name: p for p in schema.page_params(page)}
    knobs = {k.name: k for k in archlib.get_model(view.model).knobs}
    for key, raw in query.items():
        if key in state.RESERVED:
            continue
        if key == state.MODEL:
            assert view.model == raw.strip() or f"model={raw[:60]!r}" in text
            continue
        if page in state.KNOB_PAGES and key in knobs and view.model == query.get(state.MODEL, view.model).strip():
            try:
                parsed = state.clean(knobs[key].parse_text(raw))
                if knobs[key].kind == "text" and not parsed:  # "": the stage table the other knobs give
                    parsed = archlib.config(view.model, **{k: v for k, v in view.knobs.items() if k != key})[key]
                ok = view.knobs[key] == parsed
            except archlib.ArchlibError:
                ok = False
            assert ok or key in text, (key, raw, messages)
            continue
        if key in specs:
            try:
                ok = view.params[key] == state.clean(specs[key].parse_text(raw))
            except archlib.ArchlibError:
                ok = False
            assert ok or key in text, (key, raw, messages)
            continue
        if page == state.COMPARE and key.split(".")[0] in ("m2", "m3", "m4"):
            continue  # slot keys: checked by test_compare_slots
        if page == state.PARETO and key == state.LEGACY_CFG:
            continue  # the old Pareto form of the knobs: checked by test_old_pareto_cfg_is_read_into_plain_knobs
        assert state.shown(key) in text, (key, raw, messages)


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(query=_queries(FAST_MODELS), page=st.sampled_from(state.PAGES))
def test_fuzz_query_dicts(query, page):
    if query.get(state.MODEL, "").strip() in archlib.list_models() and query[state.MODEL].strip() not in FAST_MODELS:
        query[state.MODEL] = "mobilenet_v2"  # keeps lowering cheap; every model is fuzzed below
    _check(query, page)


@FUZZ
@given(raw=st.one_of(st.text(max_size=200),
                     _queries(FAST_MODELS).map(urlencode),
                     st.lists(st.sampled_from(["model=lenet", "model=mobilenet_v2", "width=0.5", "width=x", "&", "=",
                                               "%", "%zz", "%00", "+", "level=op", "view=%3Cb%3E", "phi=1",
                                               "q=%5Bx%5D(javascript:1)", "&&==", "model"]), max_size=12).map("&".join)),
       page=st.sampled_from(state.PAGES))
def test_fuzz_raw_query_strings(raw, page):
    query = dict(parse_qsl(raw, keep_blank_values=True))  # what st.query_params hands over (last value wins)
    if query.get(state.MODEL, "lenet").strip() not in FAST_MODELS:
        query[state.MODEL] = "mobilenet_v2"  # keeps lowering cheap; unknown models are fuzzed above
    _check(query, page)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), page=st.sampled_from(state.KNOB_PAGES))
def test_fuzz_any_registered_model(data, page):
    model = data.draw(st.sampled_from(archlib.list_models()))
    query = data.draw(_queries([model]))
    query[state.MODEL] = model
    _check(query, page)


def test_a_session_offers_at_most_max_imported_uploads():
    names = [f"onnx:{i:064x}" for i in range(state.MAX_IMPORTED + 5)]
    seen: list[str] = []
    for n in names:
        assert state.remember_imported(seen, n) is seen
    assert seen == names[-state.MAX_IMPORTED:]  # the newest, in the order opened
    state.remember_imported(seen, "mobilenet_v2")
    state.remember_imported(seen, names[-1])
    assert seen == names[-state.MAX_IMPORTED:]
