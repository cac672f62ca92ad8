"""The code's shape: import-linter's layer contracts (pyproject.toml) and ruff's lint rules."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    """archlib never imports app/streamlit; core and families never import torch; layers point down."""
    exe = shutil.which("lint-imports")
    assert exe, "lint-imports is missing: pip install -r requirements.txt"
    out = _run(exe, "--no-cache")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "3 kept" in out.stdout, out.stdout[-2000:]


def test_ruff_finds_nothing():
    out = _run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_sys_path_patching():
    """The app and the tests import `app` and `archlib` one way: as installed packages."""
    offenders = [str(p.relative_to(ROOT)) for d in ("app", "pages", "tests", "benchmarks", "tools", "archlib")
                 for p in (ROOT / d).rglob("*.py")
                 if "sys.path.insert" in p.read_text() and p.name != "test_layout.py"]
    assert offenders == []
