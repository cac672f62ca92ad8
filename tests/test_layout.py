"""The code's shape: import-linter's layer contracts (pyproject.toml) and ruff's lint rules."""
from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

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


def _covered(rel: str, globs: list[str]) -> bool:
    """setuptools' package-data glob: one `*` per path part, parts matched one by one."""
    parts = rel.split("/")
    return any(len(g.split("/")) == len(parts) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, g.split("/")))
               for g in globs)


def test_package_data_ships_every_non_python_file():
    """An installed archlib/app has what the tree has: data, vendored JS and CSS, the favicon."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    tracked = _run("git", "ls-files", "archlib", "app").stdout.split()
    missing = [f for f in tracked if not f.endswith(".py")
               and not _covered(f.split("/", 1)[1], data.get(f.split("/", 1)[0], []))]
    assert tracked and missing == []


def test_the_benchmarks_and_tools_import_what_exists():
    """No test runs the benchmarks (they take minutes), so what they import from archlib and app is checked
    here: a module or name removed by a refactor fails this test rather than the next benchmark run."""
    import ast
    import importlib

    missing = []
    for path in sorted([*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "tools").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("archlib", "app"):
                mod = importlib.import_module(node.module)
                for alias in node.names:
                    if hasattr(mod, alias.name):
                        continue
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{path.name}: {node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in ("archlib", "app"):
                        try:
                            importlib.import_module(alias.name)
                        except ImportError:
                            missing.append(f"{path.name}: {alias.name}")
    assert not missing, missing
