"""Where archlib keeps its files on this host: the results database and, beside it, the uploads.

One place for both, so archlib.hardware.store (the database) and archlib.importers.uploads
(the uploaded ONNX files, kept next to it) always agree.
"""
from __future__ import annotations

import os
from pathlib import Path

#: the environment variable naming the results database
ENV = "ARCHLIB_DB"


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database file: `path`, else $ARCHLIB_DB, else ~/.cache/archlib/results.sqlite."""
    if path is None:
        path = os.environ.get(ENV) or Path.home() / ".cache" / "archlib" / "results.sqlite"
    return Path(path).expanduser()


def uploads_dir() -> Path:
    """`uploads/` beside the results database."""
    return db_path().parent / "uploads"
