"""Results databases broken in the ways a user's can be, for the CLI and app tests."""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import archlib
from archlib.hardware import host as hostinfo
from archlib.hardware import store

SETTINGS = {"device": "cpu", "batch": 1, "threads": 1, "dtype": "float32", "channels_last": False}
#: not a database at all, a malformed body, another program's table, a table without host_id, a newer schema
BROKEN = ("not_a_database", "malformed", "one_column", "no_host_id", "newer")


def make_broken(db: Path, how: str) -> None:
    """Write a database at `db` broken as `how` (one of BROKEN)."""
    if how == "not_a_database":
        db.write_bytes(os.urandom(8192))
    elif how == "malformed":
        s = store.Store(db)
        for m in archlib.list_models()[:12]:
            s.put(hostinfo.host_info(), m, {}, SETTINGS, "latency", {"median_ms": 1.0})
        data = bytearray(db.read_bytes())
        data[4096 + 64:8192] = b"\xab" * (8192 - 4096 - 64)  # the table's first page
        db.write_bytes(bytes(data))
    elif how in ("one_column", "no_host_id"):
        cols = "x" if how == "one_column" else "model, config, settings, kind, host, result, created"
        with contextlib.closing(sqlite3.connect(db)) as con:
            con.execute(f"CREATE TABLE measurements ({cols})")
            con.commit()
    elif how == "newer":
        store.Store(db)
        with contextlib.closing(sqlite3.connect(db)) as con:
            con.execute("PRAGMA user_version = 9")
            con.commit()
    else:
        raise ValueError(how)
