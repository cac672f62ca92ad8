"""Uploaded ONNX files, kept content-addressed (sha256) next to the results database.

`onnx:<sha256>` names an upload for anyone using the same server (the folder is
`uploads/` beside $ARCHLIB_DB, as archlib.hardware.store places the database). Files are
bounded one by one (MAX_UPLOAD_BYTES) and all together (MAX_STORE_BYTES): past it the
least recently used are evicted. A file is stored only after it imported cleanly, and
nothing stored is ever executed.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from archlib.errors import ArchlibError

ENV = "ARCHLIB_DB"  # the same variable as archlib.hardware.store (tests check they agree)
PREFIX = "onnx:"
MAX_UPLOAD_BYTES = 200 * 2**20
MAX_STORE_BYTES = 2 * 2**30
_HASH = re.compile(r"[0-9a-f]{64}")


def folder() -> Path:
    """`uploads/` next to the results database ($ARCHLIB_DB, else ~/.cache/archlib/results.sqlite)."""
    db = os.environ.get(ENV) or Path.home() / ".cache" / "archlib" / "results.sqlite"
    return Path(db).expanduser().parent / "uploads"


def name_of(sha: str) -> str:
    return PREFIX + sha


def sha_of(name: str) -> str:
    """The sha256 in `onnx:<sha256>`; anything else is refused with the expected form."""
    sha = name[len(PREFIX):] if isinstance(name, str) and name.startswith(PREFIX) else ""
    if not _HASH.fullmatch(sha):
        shown = repr(name[:80]) if isinstance(name, str) else repr(name)
        raise ArchlibError(f"model={shown} is not allowed: an uploaded model is named onnx: and the 64 lowercase "
                           "hex digits of its sha256.")
    return sha


def add(data: bytes, sha: str, *, filename: str, meta: dict[str, Any] | None = None,
        limit: int = MAX_STORE_BYTES) -> str:
    """Keep `data` (already imported cleanly, hashed as `sha`) and its description; the model name."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ArchlibError(f"{filename}: {len(data) / 2**20:,.1f} MiB is too large to keep; at most "
                           f"{MAX_UPLOAD_BYTES / 2**20:,.0f} MiB per upload.")
    base = folder()
    base.mkdir(parents=True, exist_ok=True)
    target = base / f"{sha}.onnx"
    if not target.exists():
        tmp = base / f".{sha}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
    info = {"filename": str(filename)[:200], "size": len(data), "added": time.time(), **(meta or {})}
    _write_json(base / f"{sha}.json", info)
    evict(limit, keep=sha)
    return name_of(sha)


def _write_json(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def load(name: str) -> tuple[bytes, dict[str, Any]]:
    """The bytes and description of upload `name` (marked as just used, for the eviction order)."""
    sha = sha_of(name)
    path = folder() / f"{sha}.onnx"
    try:
        data = path.read_bytes()
    except OSError:
        raise ArchlibError(f"no uploaded model {PREFIX}{sha[:12]}… here: it was never uploaded to this server, or "
                           "it has been evicted to make room; upload the file again.") from None
    info = describe(sha)
    os.utime(path)  # least recently used = oldest modification time
    return data, info


def describe(sha: str) -> dict[str, Any]:
    try:
        return json.loads((folder() / f"{sha}.json").read_text())
    except (OSError, ValueError):
        return {"filename": f"{sha[:12]}.onnx"}


def evict(limit: int = MAX_STORE_BYTES, *, keep: str | None = None) -> list[str]:
    """Delete the least recently used uploads until they take at most `limit` bytes; their hashes."""
    files = sorted(folder().glob("*.onnx"), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    gone = []
    for p in files:
        if total <= limit:
            break
        if p.stem == keep:
            continue
        total -= p.stat().st_size
        p.unlink(missing_ok=True)
        (p.with_suffix(".json")).unlink(missing_ok=True)
        gone.append(p.stem)
    return gone
