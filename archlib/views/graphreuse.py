"""Reuse a Graphviz layout for graphs of the same structure, so a new configuration costs no `dot`.

Two configurations of one model that differ only in numbers (a resolution, a width that
keeps the channels' divisibility) give graphs with the same boxes, arrows and rows: only
the labels' text and the fills change. Laying out EfficientNet-B7's 817 op boxes takes
`dot` about 0.3 s, most of a new link's server time; rewriting the labels and fills of a
laid-out SVG takes a few ms. So the first SVG of a structure is kept (an LRU per process),
and a later graph of that structure gets Graphviz's own SVG with its own labels and fills
written in: each label line centred in its box, white text on the dark fills.

A label is only rewritten when each line fits its box: no longer than the line it replaces
(the box was sized for that one), or short enough at a generous width per character;
otherwise the graph is laid out anew. Clusters (expanded
groups) and pictures with a legend or tooltips are always laid out anew.
"""
from __future__ import annotations

import hashlib
import html
import re
import threading
from collections import OrderedDict

import networkx as nx

#: structures kept per process (an SVG each: B7's op level is about 1 MB)
KEEP = 32
#: the labels' font size (points) and Graphviz's default node margin on each side (0.11 in)
FONT_SIZE, MARGIN = 10.0, 7.92
#: Helvetica's advance widths (per 1000 em, the font's published metrics) of the characters labels use
#: most; anything else counts as 1000 (wider than any Latin letter), so an estimate errs on the wide side
_WIDTH = {**dict.fromkeys("0123456789", 556), **dict.fromkeys(" .,:·", 278), **dict.fromkeys("ijl", 222),
          **dict.fromkeys("frt", 333), **dict.fromkeys("ckvxyz", 500), **dict.fromkeys("abdeghnopqsu", 556),
          "w": 722, "m": 833, "K": 667, "M": 833, "G": 778, "T": 611, "A": 667, "C": 722, "P": 667, "-": 333,
          "(": 333, ")": 333, "/": 278, "_": 556, "@": 1015, "→": 1000}

_NODE = re.compile(rb'(<g id="n(?:-|&#45;)[^"]*" class="node">\n<title>[^<]*</title>\n)(.*?)(</g>)', re.S)
_PATH = re.compile(rb'<path fill="([^"]*)"([^>]*) d="([^"]*)"/>')
_TEXT = re.compile(rb'<text text-anchor="(?:start|middle)" x="([-0-9.]+)" y="([-0-9.]+)"([^>]*)>(.*?)</text>', re.S)
_NUMBER = re.compile(rb"-?[0-9.]+")
_TAG = re.compile(r"<[^>]+>")


class Layouts:
    """Laid-out SVGs by structure, least recently used dropped first; safe across sessions' threads."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._svgs: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        # one of these is held while a structure is laid out, so sessions opening new links of one
        # structure at once wait for its first layout instead of each starting dot (striped: bounded)
        self._laying_out = [threading.Lock() for _ in range(64)]

    def laying_out(self, key: str) -> threading.Lock:
        """The lock to hold while `key`'s structure is looked up and, if missing, laid out."""
        return self._laying_out[int(key[:8], 16) % len(self._laying_out)]

    def get(self, key: str) -> bytes | None:
        with self._lock:
            svg = self._svgs.get(key)
            if svg is not None:
                self._svgs.move_to_end(key)
            return svg

    def put(self, key: str, svg: bytes) -> None:
        with self._lock:
            self._svgs[key] = svg
            self._svgs.move_to_end(key)
            while len(self._svgs) > self.keep:
                self._svgs.popitem(last=False)


LAYOUTS = Layouts()


def structure_key(g: nx.DiGraph, rankdir: str) -> str:
    """Equal for graphs Graphviz lays out alike: same boxes in the same order, arrows, clusters, direction."""
    h = hashlib.sha1(rankdir.encode())
    for n in g.nodes:
        h.update(n.encode() + b"\0")
    for u, v in g.edges:
        h.update(f"{u}->{v}\0".encode())
    for c in g.graph.get("clusters", {}):
        h.update(b"c:" + c.encode() + b"\0")
    return h.hexdigest()


def label_lines(label: str) -> list[str]:
    """An HTML-like DOT label (`<b>name</b><br/>...`) as its lines of text."""
    return [html.unescape(_TAG.sub("", line)) for line in label.split("<br/>")]


def relabel(svg: bytes, labels: dict[str, tuple[list[str], str, str]]) -> bytes | None:
    """`svg` (Graphviz's, of the same structure) with each node's lines, fill and font colour from
    `labels` ({node id: (lines, fill, font colour)}); None when a line would not fit its box."""
    out: list[bytes] = []
    pos = 0
    for m in _NODE.finditer(svg):
        node_id = html.unescape(m.group(1).split(b'"', 2)[1].decode())
        new = labels.get(node_id)
        body = _rewrite(m.group(2), *new) if new is not None else None
        if body is None:
            return None
        out += [svg[pos:m.start(2)], body]
        pos = m.end(2)
    out.append(svg[pos:])
    return b"".join(out)


def _width(text: str) -> float:
    """An upper estimate of `text`'s width in points at the labels' font size."""
    return sum(_WIDTH.get(c, 1000) for c in text) * FONT_SIZE / 1000


def _rewrite(body: bytes, lines: list[str], fill: str, font: str) -> bytes | None:
    """One node's drawing with new text lines (centred in its box), fill and font colour."""
    path = _PATH.search(body)
    texts = list(_TEXT.finditer(body))
    if path is None or len(texts) != len(lines):
        return None
    xs = [float(v) for v in _NUMBER.findall(path.group(3))[::2]]
    room = max(xs) - min(xs) - 2 * MARGIN
    if any(_width(new) > _width(html.unescape(t.group(4).decode())) and _width(new) > room
           for new, t in zip(lines, texts)):
        return None  # a wider line that may not fit the box sized for the old one: lay out anew
    centre = (min(xs) + max(xs)) / 2
    colour = b' fill="white"' if font == "white" else b""
    drawn = [b'<text text-anchor="middle" x="%.2f" y="%s"%s%s>%s</text>' % (
        centre, t.group(2), re.sub(rb' fill="[^"]*"', b"", t.group(3)), colour,
        html.escape(new, quote=False).encode()) for new, t in zip(lines, texts)]
    return (body[:path.start()] + b'<path fill="' + fill.encode() + b'"' + path.group(2) + b' d="' + path.group(3)
            + b'"/>' + body[path.end():texts[0].start()] + b"\n".join(drawn) + body[texts[-1].end():])
