"""The graph's URL values, `expand` (groups drawn expanded) and `focus` (the selected node).

Pure Python (no streamlit): each comma-separated name is checked against the model's own
names, never evaluated; a name the model does not have is named in a message and
dropped, and the rest are kept.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

#: the longest name a click selects or expands, and so the `focus` URL value's limit: an imported group name is
#: at most three parts of 80 characters plus suffixes (archlib.importers.graph.MAX_PART); a longer op name is not
#: selectable (its click is dropped), so every selection fits its link
MAX_NAME = 300
#: characters of expanded group names a link carries (the `expand` URL value's limit): a click that would pass
#: it expands nothing and says so, so every expansion made by clicking reopens from its link. About 300 of a
#: catalogue model's groups (`s2.b1.dw`), or 6 of the longest imported ones; with MAX_NAME, 2,301 of the
#: 8,000 characters a link may have (app.ui.state.MAX_QUERY_CHARS)
MAX_EXPAND = 2000


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def split(text: str) -> list[str]:
    """The names of a comma-separated value, stripped, empty ones dropped, duplicates once."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def parse_expand(text: str, groups: Sequence[str], *, model: str) -> tuple[tuple[str, ...], list[str]]:
    """(the groups of `text` that `model` has, in model order; one message per name dropped)."""
    names = split(text)
    known = set(groups)
    bad = [n for n in names if n not in known]
    messages = [f"expand: {_shown(n)} is not a stage, block or unit of {model}; ignored "
                f"(groups look like {', '.join(list(groups)[:3])})." for n in bad[:5]]
    if len(bad) > 5:
        messages.append(f"expand: {len(bad) - 5} more unknown names ignored.")
    keep = [n for n in names if n in known]
    return ordered(keep, groups), messages


def parse_focus(text: str, names: Collection[str], *, model: str) -> tuple[str, list[str]]:
    """(the selected name if `model` has it, else ""; a message when it does not)."""
    name = text.strip()
    if not name or name in names:
        return name, []
    return "", [f"focus: {_shown(name)} is not a layer or group of {model}; nothing is selected."]


def ordered(names: Iterable[str], groups: Sequence[str]) -> tuple[str, ...]:
    """`names` in the order the model runs them (stable URLs whatever the click order)."""
    rank = {g: i for i, g in enumerate(groups)}
    return tuple(sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n)))


def toggle(expand: Iterable[str], name: str, groups: Sequence[str]) -> tuple[str, ...]:
    """Expand `name`, or collapse it with every group inside it when it is already expanded."""
    current = set(expand)
    if name in current:
        current = {n for n in current if n != name and not n.startswith(name + ".")}
    else:
        current.add(name)
    return ordered(current, groups)


def apply_click(ev: Mapping[str, str], expand: Iterable[str], focus: str, groups: Sequence[str],
                names: Collection[str]) -> tuple[tuple[str, ...], str, str]:
    """(expand, focus, a note for the user) after a click: a group toggles and is selected, an op is
    selected, the background clears the selection; a name the model lacks changes nothing. A group
    whose expansion would not fit in a link (MAX_EXPAND) stays collapsed, selected, with a note."""
    expand = ordered(expand, groups)
    if ev["action"] == "clear":
        return expand, "", ""
    name = ev["name"]
    if name not in names or len(name) > MAX_NAME:
        return expand, focus, ""
    if ev["action"] == "toggle" and name in groups:
        toggled = toggle(expand, name, groups)
        if len(join(toggled)) > MAX_EXPAND:
            return expand, name, (f"{_shown(name)} was not expanded: the {len(expand)} groups already expanded "
                                  f"fill the {MAX_EXPAND:,} characters a link keeps for them. Collapse some first.")
        expand = toggled
    return expand, name, ""


def join(names: Iterable[str]) -> str:
    """The URL form of a set of names."""
    return ",".join(names)
