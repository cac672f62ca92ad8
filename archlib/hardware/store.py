"""Measurements kept per host and configuration in SQLite, and the one-at-a-time host lock.

The database is `path` when given, else $ARCHLIB_DB, else ~/.cache/archlib/results.sqlite.
A row is keyed by host id + model + full knob configuration + the settings that define
what was measured (device, batch, threads, dtype, channels_last) + the kind (latency,
train_step, energy): measuring again replaces it, a restart keeps it, and two hosts'
rows sit side by side. The lock is an flock on `<db>.lock`, so it holds across threads
and processes of this host; a waiter hears who holds it and gives up after a timeout.

A database that opens but cannot be used (corrupt, another program's table, a newer
schema version) is refused when the Store is opened, before anything is measured, with a
message saying where it is and to move it aside. A row's model is a registered one or an
upload kept here (`onnx:<sha256>`). Rows that do not read back (a result that is not JSON, a
latency without median_ms, an unknown model, an upload evicted since) are skipped and listed
in `Store.skipped`. A measurement that ran but could not be stored is kept, one JSON line per
measurement, in `<db>.unsaved.jsonl` (or the temporary folder), and NotStored says where.
"""
from __future__ import annotations

import functools
import json
import math
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import archlib
from archlib.core.paths import ENV as ENV  # re-exported: callers set $ARCHLIB_DB through store.ENV
from archlib.core.paths import db_path as db_path
from archlib.errors import ArchlibError
from archlib.hardware.host import HostLock, host_id, host_info
from archlib.importers import uploads

KEY_SETTINGS = ("device", "batch", "threads", "dtype", "channels_last", "backend")
#: key settings added after rows were stored: left out of a row's key at their default, so older rows keep matching
LATER_DEFAULTS = {"backend": "eager"}
KINDS = ("latency", "train_step", "energy")
#: PRAGMA user_version of the database this archlib writes (0: a database from before versions, same table)
SCHEMA_VERSION = 1
COLUMNS = ("host_id", "model", "config", "settings", "kind", "host", "result", "created")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS measurements (
    host_id TEXT NOT NULL, model TEXT NOT NULL, config TEXT NOT NULL, settings TEXT NOT NULL,
    kind TEXT NOT NULL, host TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (host_id, model, config, settings, kind))
"""
#: the latency model's tables (archlib.hardware.latency.calibrate): resumable samples and fitted models, per host and
#: settings; created where missing in a database of any version (older archlibs ignore them)
_CALIBRATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS calibration_samples (
    host_id TEXT NOT NULL, settings TEXT NOT NULL, sample TEXT NOT NULL, class TEXT NOT NULL,
    op TEXT NOT NULL, value REAL NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (host_id, settings, sample));
CREATE TABLE IF NOT EXISTS latency_models (
    host_id TEXT NOT NULL, settings TEXT NOT NULL, torch TEXT NOT NULL, host TEXT NOT NULL,
    model TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (host_id, settings));
"""


class StoreError(ArchlibError):
    """The measurements database exists but cannot be used: corrupt, foreign or newer."""


class NotStored(ArchlibError):
    """A measurement ran but could not be stored; `record` is what it measured, `kept_in`
    the file that keeps it."""

    def __init__(self, message: str, record: dict[str, Any], kept_in: Path | None) -> None:
        super().__init__(message)
        self.record, self.kept_in = record, kept_in


def _canon(d: Mapping[str, Any]) -> str:
    return json.dumps(dict(d), sort_keys=True, separators=(",", ":"), default=str)


def settings_key(settings: Mapping[str, Any]) -> str:
    """The stored key of a measurement's settings (KEY_SETTINGS; later ones only where not default)."""
    key = {k: settings.get(k, LATER_DEFAULTS.get(k)) for k in KEY_SETTINGS}
    return _canon({k: v for k, v in key.items() if not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])})


class Store:
    """The measurements database of this and other hosts."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = db_path(path)
        #: rows the last read skipped, each "why" in a few words (see rows())
        self.skipped: list[str] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                self._check(con)
        except StoreError:
            raise
        except sqlite3.DatabaseError as e:  # not a database, malformed, ...
            raise self._unusable(f"is corrupt ({e})") from None
        except (OSError, sqlite3.Error) as e:
            raise ArchlibError(f"the measurements database {str(self.path)!r} cannot be opened: {e}; "
                               f"set {ENV} to a writable file.") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def _unusable(self, what: str) -> StoreError:
        p = str(self.path)
        return StoreError(f"the measurements database {p!r} {what}. Move it aside (for example `mv {p} {p}.broken`): "
                          f"a new, empty one is then made there; or set {ENV} to another file. Until then nothing "
                          "is measured or stored, and the rest works without measurements.")

    def _check(self, con: sqlite3.Connection) -> None:
        """Refuse a database this archlib cannot read or write; create the table in a new one."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise self._unusable(f"has schema version {version}, written by a newer archlib (this one reads "
                                 f"version {SCHEMA_VERSION})")
        verdict = [r[0] for r in con.execute("PRAGMA quick_check(3)")]
        if verdict != ["ok"]:
            found = "; ".join(line.strip() for v in verdict for line in v.splitlines() if "***" not in line)
            raise self._unusable(f"is corrupt ({found[:160]})")
        cols = tuple(r[1] for r in con.execute("PRAGMA table_info(measurements)"))
        if cols and cols != COLUMNS:
            raise self._unusable(f"has a table 'measurements' with columns ({', '.join(cols)[:200]}), not "
                                 f"archlib's ({', '.join(COLUMNS)}): another program or version wrote it")
        if not cols or version < SCHEMA_VERSION:
            con.execute(_SCHEMA)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.executescript(_CALIBRATION_SCHEMA)

    def _read(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        """The rows of a query; a database that broke since it was opened becomes a StoreError."""
        try:
            with self._connect() as con:
                con.row_factory = sqlite3.Row
                return con.execute(sql, tuple(args)).fetchall()
        except sqlite3.DatabaseError as e:
            raise self._unusable(f"cannot be read ({e})") from None

    def check_writable(self) -> None:
        """Refuse, before anything is measured, a database that cannot take a new row."""
        try:
            with self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
        except sqlite3.Error as e:
            raise ArchlibError(f"the measurements database {str(self.path)!r} cannot be written ({e}): nothing "
                               f"was measured; set {ENV} to a writable file.") from None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def unsaved_path(self) -> Path:
        """Where measurements that could not be stored are kept (JSON lines)."""
        return self.path.with_name(self.path.name + ".unsaved.jsonl")

    def put(self, host: Mapping[str, Any], model: str, knobs: Mapping[str, Any], settings: Mapping[str, Any],
            kind: str, result: Mapping[str, Any]) -> None:
        """Keep (or replace) one measurement."""
        if kind not in KINDS:
            raise ArchlibError(f"kind={kind!r} is not allowed: kind must be one of {', '.join(KINDS)}.")

        row = (host_id(host), model, _canon(archlib.config(model, **knobs)), settings_key(settings), kind,
               _canon(host), _canon(result), time.time())
        with self._connect() as con:
            con.execute(f"INSERT OR REPLACE INTO measurements ({', '.join(COLUMNS)}) VALUES (?,?,?,?,?,?,?,?)", row)

    def rows(self, *, host_id: str | None = None, kind: str | None = None,
             model: str | None = None) -> list[dict[str, Any]]:
        """Stored measurements (newest first), each a dict with the host, config, settings and
        result; rows that do not read back are left out and described in `self.skipped`."""
        where, args = [], []
        for col, val in (("host_id", host_id), ("kind", kind), ("model", model)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = (f"SELECT rowid, {', '.join(COLUMNS)} FROM measurements" + (" WHERE " + " AND ".join(where) if where
                                                                          else ""))
        out, self.skipped = [], []
        for r in self._read(sql + " ORDER BY created DESC", args):
            row, why = _parse_row(dict(r))
            if why:
                self.skipped.append(f"row {r['rowid']} ({str(r['model'])[:40]}, {str(r['kind'])[:20]}): {why}")
            else:
                out.append(row)
        return out

    def get(self, host: Mapping[str, Any], model: str, knobs: Mapping[str, Any], settings: Mapping[str, Any],
            kind: str) -> dict[str, Any] | None:
        """The stored result of exactly this measurement on this host, or None (also for a row
        that does not read back)."""

        key = (host_id(host), model, _canon(archlib.config(model, **knobs)), settings_key(settings), kind)
        got = self._read(f"SELECT rowid, {', '.join(COLUMNS)} FROM measurements WHERE host_id=? AND model=? AND "
                         "config=? AND settings=? AND kind=?", key)
        row, why = _parse_row(dict(got[0])) if got else (None, "")
        return None if why or row is None else row["result"]

    def hosts(self) -> list[dict[str, Any]]:
        """One description per host id, with how many measurements it has (hosts whose
        description does not read back are described in `self.skipped`)."""
        out, self.skipped = [], []
        for h, d, n in self._read("SELECT host_id, host, COUNT(*) FROM measurements GROUP BY host_id"):
            desc = _json_dict(d)
            if desc is None:
                self.skipped.append(f"host {str(h)[:20]}: its description is not a JSON object")
                continue
            out.append({"hostname": "?", "device": "?", "cpu": "?", "torch": "?", **desc, "host_id": h,
                        "measurements": n})
        return out

    # -- calibration: samples (resumable) and fitted latency models, keyed by host id and settings
    def put_sample(self, host_id: str, settings: Mapping[str, Any], sample: str, cls: str, op: Mapping[str, Any],
                   value: float) -> None:
        """Keep one calibration measurement (µs of an op, or a peak) of `host_id` with `settings`."""
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO calibration_samples VALUES (?,?,?,?,?,?,?)",
                        (host_id, _canon(settings), sample, cls, _canon(op), float(value), time.time()))

    def samples(self, host_id: str, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The calibration measurements of exactly this host and settings (never another host's)."""
        with self._connect() as con:
            got = con.execute("SELECT host_id, sample, class, op, value FROM calibration_samples "
                              "WHERE host_id=? AND settings=? ORDER BY created", (host_id, _canon(settings))).fetchall()
        return [{"host_id": h, "sample": k, "class": c, "op": json.loads(o), "value": v} for h, k, c, o, v in got]

    def delete_samples(self, host_id: str, settings: Mapping[str, Any]) -> int:
        with self._connect() as con:
            return con.execute("DELETE FROM calibration_samples WHERE host_id=? AND settings=?",
                               (host_id, _canon(settings))).rowcount

    def put_latency_model(self, model: Mapping[str, Any]) -> None:
        """Keep a fitted latency model (its JSON form), replacing this host's for the same settings."""
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO latency_models VALUES (?,?,?,?,?,?)",
                        (model["host_id"], _canon(model["settings"]), str(model["host"].get("torch", "")),
                         _canon(model["host"]), _canon(model), time.time()))

    def latency_model(self, host_id: str, settings: Mapping[str, Any]) -> dict[str, Any] | None:
        with self._connect() as con:
            got = con.execute("SELECT model FROM latency_models WHERE host_id=? AND settings=?",
                              (host_id, _canon(settings))).fetchone()
        return json.loads(got[0]) if got else None

    def latency_models(self, *, host_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored latency model (or one host's): host id, settings, torch, host, created."""
        sql = "SELECT host_id, settings, torch, host, created FROM latency_models"
        with self._connect() as con:
            got = con.execute(sql + (" WHERE host_id=?" if host_id else "") + " ORDER BY created DESC",
                              (host_id,) if host_id else ()).fetchall()
        return [{"host_id": h, "settings": json.loads(s), "torch": t, "host": json.loads(d), "created": c}
                for h, s, t, d, c in got]


def record(kind: str, model: str, knobs: Mapping[str, Any] | None = None, *, store: Store | None = None,
           lock_timeout: float = 120.0, on_wait: Callable[[str], None] | None = None,
           **given: Any) -> dict[str, Any]:
    """Measure `kind` of `model` at `knobs` under this host's lock, store it, and return
    {"host": ..., "settings": ..., "result": ...}. Settings as archlib.hardware.measure takes.

    The store is checked before anything runs; a measurement that ran but could not be
    stored raises NotStored, which carries it and says where it was kept."""
    from archlib.hardware import measure

    knobs = dict(knobs or {})
    store = store or Store()
    cfg = measure.settings(**given)
    archlib.analyze(model, **knobs)  # bad knobs fail before any waiting
    store.check_writable()
    what = f"measuring {kind} of {model}"
    with HostLock(store.lock_path, what=what, timeout=lock_timeout, on_wait=on_wait):
        result = _run(kind, model, knobs, cfg)
    host = host_info(cfg["device"])
    host["torch_threads"] = cfg["threads"]
    rec = {"host": host, "settings": cfg, "result": result}
    try:
        store.put(host, model, knobs, cfg, kind, result)
    except (sqlite3.Error, OSError) as e:
        kept = _keep_unsaved(store, {"kind": kind, "model": model, "config": archlib.config(model, **knobs), **rec,
                                     "created": time.time(), "error": str(e)})
        where = f"it is kept in {str(kept)!r} (one JSON line per measurement)" if kept else "it could not be kept"
        raise NotStored(f"the measurement of {model} ran but could not be stored in {str(store.path)!r} ({e}); "
                        f"{where}.", rec, kept) from None
    return rec


def _keep_unsaved(store: Store, rec: Mapping[str, Any]) -> Path | None:
    """Append `rec` to the side file next to the database, else in the temporary folder."""
    line = json.dumps(rec, default=str) + "\n"
    for path in (store.unsaved_path, Path(tempfile.gettempdir()) / f"archlib-unsaved-{os.getuid()}.jsonl"):
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)
            return path
        except OSError:
            continue
    return None


def _json_dict(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class _Unreadable(ArchlibError):
    """Why a stored configuration does not read back (raised, so that it is never cached)."""


def _config(model: str, text: str) -> tuple[dict[str, Any] | None, str]:
    """(the stored configuration validated by this archlib, "") or (None, why not). A registered model
    or an upload kept here (`onnx:<sha256>`); an upload evicted since is said to be one."""
    if _json_dict(text) is None:
        return None, "config is not a JSON object"
    try:
        if model.startswith(uploads.PREFIX) and not _kept(model):
            raise _Unreadable("an upload no longer kept on this server (evicted to make room, or never uploaded "
                              "here)")
        return _valid_config(model, text), ""
    except _Unreadable as e:
        return None, str(e)


def _kept(model: str) -> bool:
    try:
        return uploads.kept(model)
    except ArchlibError:  # not an upload's name (onnx: and 64 hex digits)
        raise _Unreadable("a model this archlib does not know") from None


@functools.lru_cache(maxsize=4096)
def _valid_config(model: str, text: str) -> dict[str, Any]:
    """The validated configuration; cached (every rerun of the Pareto page reads every row), failures
    not: an upload is content-addressed and keeps its first description, so a success stays true."""
    if model not in archlib.list_models():
        if not model.startswith(uploads.PREFIX):
            raise _Unreadable("a model this archlib does not know" + (
                " (an ONNX file's path: only uploads, onnx:<sha256>, read back)" if model.lower().endswith(".onnx")
                else ""))
        try:
            archlib.get_model(model)
        except ArchlibError as e:
            raise _Unreadable(f"an upload that cannot be opened here ({str(e)[:80]})") from None
    try:
        return archlib.config(model, **_json_dict(text))
    except ArchlibError as e:
        raise _Unreadable(f"its configuration is not valid here ({str(e)[:80]})") from None


def _parse_row(r: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the row with its JSON columns read, "") or (partial row, why it is skipped)."""
    r.pop("rowid", None)
    cfg, why = _config(str(r["model"]), str(r["config"]))
    if cfg is None:
        return r, why
    r["config"] = dict(cfg)
    for col in ("settings", "host", "result"):
        r[col] = _json_dict(r[col])
        if r[col] is None:
            return r, f"{col} is not a JSON object"
    r["settings"] = LATER_DEFAULTS | r["settings"]
    if r["kind"] not in KINDS:
        return r, f"an unknown kind {str(r['kind'])[:20]!r}"
    if any(k not in r["settings"] for k in KEY_SETTINGS):
        return r, "settings lack " + ", ".join(k for k in KEY_SETTINGS if k not in r["settings"])
    if r["kind"] != "energy":
        ms = r["result"].get("median_ms")
        if not (isinstance(ms, (int, float)) and not isinstance(ms, bool) and math.isfinite(ms) and ms > 0):
            return r, "the result has no positive median_ms"
    return r, ""


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

