"""Measurements kept per host and configuration in SQLite, and the one-at-a-time host lock.

The database is `path` when given, else $ARCHLIB_DB, else ~/.cache/archlib/results.sqlite.
A row is keyed by host id + model + full knob configuration + the settings that define
what was measured (device, batch, threads, dtype, channels_last) + the kind (latency,
train_step, energy): measuring again replaces it, a restart keeps it, and two hosts'
rows sit side by side. The lock is an flock on `<db>.lock`, so it holds across threads
and processes of this host; a waiter hears who holds it and gives up after a timeout.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import archlib
from archlib.errors import ArchlibError
from archlib.hardware.host import HostLock, host_id, host_info

ENV = "ARCHLIB_DB"
KEY_SETTINGS = ("device", "batch", "threads", "dtype", "channels_last")
KINDS = ("latency", "train_step", "energy")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    host_id TEXT NOT NULL, model TEXT NOT NULL, config TEXT NOT NULL, settings TEXT NOT NULL,
    kind TEXT NOT NULL, host TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (host_id, model, config, settings, kind))
"""


def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database file: `path`, else $ARCHLIB_DB, else ~/.cache/archlib/results.sqlite."""
    if path is None:
        path = os.environ.get(ENV) or Path.home() / ".cache" / "archlib" / "results.sqlite"
    return Path(path).expanduser()


def _canon(d: Mapping[str, Any]) -> str:
    return json.dumps(dict(d), sort_keys=True, separators=(",", ":"), default=str)


class Store:
    """The measurements database of this and other hosts."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = db_path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise ArchlibError(f"the measurements database {str(self.path)!r} cannot be opened: {e}; "
                               f"set {ENV} to a writable file.") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def put(self, host: Mapping[str, Any], model: str, knobs: Mapping[str, Any], settings: Mapping[str, Any],
            kind: str, result: Mapping[str, Any]) -> None:
        """Keep (or replace) one measurement."""
        if kind not in KINDS:
            raise ArchlibError(f"kind={kind!r} is not allowed: kind must be one of {', '.join(KINDS)}.")

        row = (host_id(host), model, _canon(archlib.config(model, **knobs)),
               _canon({k: settings[k] for k in KEY_SETTINGS}), kind, _canon(host), _canon(result), time.time())
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO measurements VALUES (?,?,?,?,?,?,?,?)", row)

    def rows(self, *, host_id: str | None = None, kind: str | None = None,
             model: str | None = None) -> list[dict[str, Any]]:
        """Stored measurements (newest first), each a dict with the host, config, settings and result."""
        where, args = [], []
        for col, val in (("host_id", host_id), ("kind", kind), ("model", model)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM measurements" + (" WHERE " + " AND ".join(where) if where else "")
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            out = [dict(r) for r in con.execute(sql + " ORDER BY created DESC", args)]
        for r in out:
            for col in ("config", "settings", "host", "result"):
                r[col] = json.loads(r[col])
        return out

    def get(self, host: Mapping[str, Any], model: str, knobs: Mapping[str, Any], settings: Mapping[str, Any],
            kind: str) -> dict[str, Any] | None:
        """The stored result of exactly this measurement on this host, or None."""

        key = (host_id(host), model, _canon(archlib.config(model, **knobs)),
               _canon({k: settings[k] for k in KEY_SETTINGS}), kind)
        with self._connect() as con:
            got = con.execute("SELECT result FROM measurements WHERE host_id=? AND model=? AND config=? "
                              "AND settings=? AND kind=?", key).fetchone()
        return json.loads(got[0]) if got else None

    def hosts(self) -> list[dict[str, Any]]:
        """One description per host id, with how many measurements it has."""
        with self._connect() as con:
            got = con.execute("SELECT host_id, host, COUNT(*) FROM measurements GROUP BY host_id").fetchall()
        return [{"host_id": h, **json.loads(d), "measurements": n} for h, d, n in got]


def record(kind: str, model: str, knobs: Mapping[str, Any] | None = None, *, store: Store | None = None,
           lock_timeout: float = 120.0, on_wait: Callable[[str], None] | None = None,
           **given: Any) -> dict[str, Any]:
    """Measure `kind` of `model` at `knobs` under this host's lock, store it, and return
    {"host": ..., "settings": ..., "result": ...}. Settings as archlib.hardware.measure takes."""
    from archlib.hardware import measure

    knobs = dict(knobs or {})
    store = store or Store()
    cfg = measure.settings(**given)
    archlib.analyze(model, **knobs)  # bad knobs fail before any waiting
    what = f"measuring {kind} of {model}"
    with HostLock(store.lock_path, what=what, timeout=lock_timeout, on_wait=on_wait):
        result = _run(kind, model, knobs, cfg)
    host = host_info(cfg["device"])
    host["torch_threads"] = cfg["threads"]
    store.put(host, model, knobs, cfg, kind, result)
    return {"host": host, "settings": cfg, "result": result}


def _run(kind: str, model: str, knobs: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    from archlib.hardware import measure

    if kind == "latency":
        return measure.measure_latency(model, knobs, **cfg).as_dict()
    if kind == "train_step":
        return measure.measure_training(model, knobs, **cfg).as_dict()
    if kind == "energy":
        energy, why = measure.measure_energy(model, knobs, **cfg)
        return (energy.as_dict() if energy else {}) | {"status": why}
    raise ArchlibError(f"kind={kind!r} is not allowed: kind must be one of {', '.join(KINDS)}.")

