"""The graph's URL values, `expand` (groups drawn expanded) and `focus` (the selected node).

Pure Python (no streamlit): each comma-separated name is checked against the model's own
names, never evaluated; a name the model does not have is named in a message and
dropped, and the rest are kept.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

MAX_NAMES = 200  # more expanded groups than any model has stages + blocks + units worth opening by hand


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
    if len(keep) > MAX_NAMES:
        messages.append(f"expand: {len(keep)} groups given, at most {MAX_NAMES} are drawn expanded; "
                        "the rest are ignored.")
        keep = keep[:MAX_NAMES]
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
                names: Collection[str]) -> tuple[tuple[str, ...], str]:
    """(expand, focus) after a click: a group toggles and is selected, an op is selected,
    the background clears the selection; a name the model lacks changes nothing."""
    expand = ordered(expand, groups)
    if ev["action"] == "clear":
        return expand, ""
    name = ev["name"]
    if name not in names:
        return expand, focus
    if ev["action"] == "toggle" and name in groups:
        expand = toggle(expand, name, groups)
    return expand, name


def join(names: Iterable[str]) -> str:
    """The URL form of a set of names."""
    return ",".join(names)
