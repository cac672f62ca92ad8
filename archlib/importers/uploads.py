"""Uploaded ONNX files, kept content-addressed (sha256) next to the results database.

`onnx:<sha256>` names an upload for anyone using the same server (the folder is
`uploads/` beside $ARCHLIB_DB: archlib.core.paths). Files are bounded one by one
(MAX_UPLOAD_BYTES) and all together (MAX_STORE_BYTES): past it the least recently used are
evicted. A file is stored only after it imported cleanly, and nothing stored is ever executed.

Each upload's description (`<sha>.json`: file name, size, input size) is the first upload's and
is never rewritten (a later upload only fills in what it lacks), so a link keeps opening what it
opened. The store is shared by every session of a server (threads) and by CLI processes: files
appear whole (a private temporary file, then a rename or link) and a file evicted meanwhile is
the "evicted" message, never a traceback.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from archlib.core import paths
from archlib.errors import ArchlibError

PREFIX = "onnx:"
MAX_UPLOAD_BYTES = 200 * 2**20
MAX_STORE_BYTES = 2 * 2**30
#: a temporary file older than this is an interrupted upload's: removed by `evict`
STALE_TMP_S = 3600
_HASH = re.compile(r"[0-9a-f]{64}")


def folder() -> Path:
    """`uploads/` next to the results database ($ARCHLIB_DB, else ~/.cache/archlib/results.sqlite)."""
    return paths.uploads_dir()


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


def _evicted(sha: str) -> ArchlibError:
    return ArchlibError(f"no uploaded model {PREFIX}{sha[:12]}… here: it was never uploaded to this server, or it has "
                        "been evicted to make room; upload the file again.")


def kept(name: str) -> bool:
    """Whether upload `name` is kept here now (a stat; nothing is read)."""
    return (folder() / f"{sha_of(name)}.onnx").is_file()


def add(data: bytes, sha: str, *, filename: str, meta: dict[str, Any] | None = None,
        limit: int = MAX_STORE_BYTES) -> str:
    """Keep `data` (already imported cleanly, hashed as `sha`) and its description; the model name.
    An upload kept before keeps its description (only what it lacks is filled in)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ArchlibError(f"{filename}: {len(data) / 2**20:,.1f} MiB is too large to keep; at most "
                           f"{MAX_UPLOAD_BYTES / 2**20:,.0f} MiB per upload.")
    base = folder()
    target = base / f"{sha}.onnx"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if target.exists():
            _touch(target)  # uploaded again: just used
        else:
            os.replace(_temporary(base, sha, data), target)  # the same content, whoever renames last
        _keep_first(base / f"{sha}.json", {"filename": str(filename)[:200], "size": len(data),
                                           "added": time.time(), **(meta or {})})
    except OSError as e:
        raise ArchlibError(f"{filename}: it imported cleanly but could not be kept in {str(base)!r} "
                           f"({e.strerror or type(e).__name__}); set {paths.ENV} to a writable place.") from None
    evict(limit, keep=sha)
    return name_of(sha)


def _temporary(base: Path, sha: str, data: bytes) -> Path:
    """`data` in a new file of `base` that no other thread or process writes."""
    fd, tmp = tempfile.mkstemp(dir=base, prefix=f".{sha[:16]}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(tmp)


def _read_json(path: Path) -> dict[str, Any] | None:
    """The description in `path`; None when there is none, {} when it is unreadable."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _keep_first(path: Path, info: dict[str, Any]) -> None:
    """Write `info` where there is no description; else only add the keys the kept one lacks."""
    for _ in range(3):
        old = _read_json(path)
        new = info | (old or {})
        if old == new:
            return
        tmp = _temporary(path.parent, path.stem, json.dumps(new).encode())
        try:
            if old is None:
                os.link(tmp, path)  # fails if another upload wrote its description first: then merge into it
            else:
                os.replace(tmp, path)
            return
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system: the last of two first uploads wins
            if old is not None:
                raise
            os.replace(tmp, path)
            return
        finally:
            tmp.unlink(missing_ok=True)


def load(name: str) -> tuple[bytes, dict[str, Any]]:
    """The bytes and description of upload `name` (marked as just used, for the eviction order)."""
    sha = sha_of(name)
    path = folder() / f"{sha}.onnx"
    try:
        data = path.read_bytes()
    except OSError:
        raise _evicted(sha) from None
    _touch(path)
    return data, describe(sha)


def _touch(path: Path) -> None:
    """Mark `path` as just used (least recently used = oldest modification time)."""
    try:
        os.utime(path)
    except OSError:  # evicted meanwhile (what was read is whole), or a read-only store
        pass


def describe(sha: str, *, fallback: bool = True) -> dict[str, Any]:
    """An upload's description (file name, size, input size), without reading the file; a missing
    or unreadable one gives the short hash as its file name (KeyError when not `fallback`)."""
    info = _read_json(folder() / f"{sha}.json") or {}
    if not isinstance(info.get("filename"), str) or not info["filename"]:
        if not fallback:
            raise KeyError(sha)
        info["filename"] = f"{sha[:12]}.onnx"
    return info


def evict(limit: int = MAX_STORE_BYTES, *, keep: str | None = None) -> list[str]:
    """Delete the least recently used uploads until they take at most `limit` bytes; their hashes."""
    files, now = [], time.time()
    for p in folder().glob("*"):
        try:
            st = p.stat()
        except FileNotFoundError:  # another session evicted it meanwhile
            continue
        if p.suffix == ".onnx":
            files.append((st.st_mtime, p.name, st.st_size, p))
        elif p.suffix == ".tmp" and now - st.st_mtime > STALE_TMP_S:
            p.unlink(missing_ok=True)
    files.sort()
    total = sum(f[2] for f in files)
    gone = []
    for _, _, size, p in files:
        if total <= limit:
            break
        if p.stem == keep:
            continue
        total -= size
        p.unlink(missing_ok=True)
        p.with_suffix(".json").unlink(missing_ok=True)
        gone.append(p.stem)
    return gone
