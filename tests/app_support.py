"""What the AppTest tests share: open a page with a URL, read a metric's exact number, the warnings."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parent.parent / "app" / "main.py")


def run(page: str = "explore", **query: str) -> AppTest:
    """A fresh session opened on `page` with `query` as its URL; fails on any exception on the page."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    if page != "explore":
        at.switch_page(f"../pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def exact(at: AppTest, label: str) -> int:
    """The exact number a metric carries at the start of its help text."""
    m = next(m for m in at.metric if m.label == label)
    return int(m.proto.help.split()[0].replace(",", ""))


def warnings(at: AppTest) -> str:
    """Every warning on the page, markdown escapes removed."""
    return "\n".join(w.value.replace("\\", "") for w in at.warning)
