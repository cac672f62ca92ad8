"""The results store, the host lock and the measurement settings under hostile conditions:
broken databases, unreadable rows, a measurement that cannot be stored, a dead lock holder,
more threads than cores."""
from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
import subprocess

import pytest
from broken_stores import BROKEN, SETTINGS, make_broken

import archlib
from archlib.errors import ArchlibError
from archlib.hardware import host as hostinfo
from archlib.hardware import measure, store

FAST = {"min_run_time": 0.05, "max_seconds": 30.0, "threads": 1}


@pytest.mark.parametrize("how", BROKEN)
def test_a_broken_database_is_refused_on_open_naming_where_and_what_to_do(tmp_path, how):
    db = tmp_path / "m.sqlite"
    make_broken(db, how)
    with pytest.raises(store.StoreError) as e:
        store.Store(db)
    msg = str(e.value)
    assert repr(str(db)) in msg and f"mv {db} {db}.broken" in msg and "works without measurements" in msg
    assert {"not_a_database": "is corrupt (file is not a database)", "malformed": "is corrupt (",
            "one_column": "columns (x), not archlib's", "no_host_id": "columns (model, config",
            "newer": "schema version 9, written by a newer archlib"}[how] in msg
    assert "\n" not in msg


def test_record_refuses_a_broken_database_before_measuring(tmp_path, monkeypatch):
    make_broken(tmp_path / "m.sqlite", "one_column")
    monkeypatch.setenv(store.ENV, str(tmp_path / "m.sqlite"))
    monkeypatch.setattr(store, "_run", lambda *a: pytest.fail("measured into a broken database"))
    with pytest.raises(store.StoreError, match="Move it aside"):
        store.record("latency", "lenet", **FAST)


def test_an_unwritable_database_is_refused_before_measuring(tmp_path, monkeypatch):
    s = store.Store(tmp_path / "m.sqlite")
    with contextlib.closing(sqlite3.connect(s.path)) as other:  # another writer holds it
        other.execute("BEGIN EXCLUSIVE")
        monkeypatch.setattr(store.Store, "_connect", lambda self: sqlite3.connect(self.path, timeout=0.1))
        monkeypatch.setattr(store, "_run", lambda *a: pytest.fail("measured what could not be stored"))
        with pytest.raises(ArchlibError, match="cannot be written .*database is locked.*nothing was measured"):
            store.record("latency", "lenet", store=s, **FAST)


def test_a_database_from_before_schema_versions_is_adopted(tmp_path):
    db = tmp_path / "m.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.execute(store._SCHEMA)
        con.execute("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?)",
                    ("h", "lenet", json.dumps(archlib.config("lenet")), json.dumps(SETTINGS), "latency",
                     json.dumps({"hostname": "old"}), json.dumps({"median_ms": 2.0}), 1.0))
        con.commit()
    s = store.Store(db)
    assert [r["result"] for r in s.rows()] == [{"median_ms": 2.0}]
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION


def test_rows_that_do_not_read_back_are_skipped_and_listed(tmp_path):
    s = store.Store(tmp_path / "m.sqlite")
    here = hostinfo.host_info()
    s.put(here, "lenet", {}, SETTINGS, "latency", {"median_ms": 1.5})
    hid, key = hostinfo.host_id(here), json.dumps(SETTINGS)
    bad = [("alexnet", "{}", key, "latency", "{}", "not json"),
           ("alexnet", "{}", key, "train_step", "{}", '{"iqr_ms": 1}'),
           ("vgg11", "{}", key, "latency", "{}", '{"median_ms": NaN}'),
           ("gone_model", "{}", key, "latency", "{}", '{"median_ms": 1}'),
           ("resnet18", '{"width": 9}', key, "latency", "{}", '{"median_ms": 1}'),
           ("resnet18", "{}", "{}", "latency", "{}", '{"median_ms": 1}'),
           ("resnet18", "{}", key, "speed", "{}", '{"median_ms": 1}')]
    with contextlib.closing(sqlite3.connect(s.path)) as con:
        con.executemany("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?)",
                        [(hid, *b, float(i)) for i, b in enumerate(bad)])
        con.commit()
    rows = s.rows()
    assert [(r["model"], r["result"]) for r in rows] == [("lenet", {"median_ms": 1.5})]
    why = "\n".join(s.skipped)
    assert len(s.skipped) == len(bad)
    for words in ("result is not a JSON object", "no positive median_ms", "a model this archlib does not know",
                  "its configuration is not valid here", "settings lack device", "an unknown kind 'speed'"):
        assert words in why
    assert s.get(here, "lenet", {}, SETTINGS, "latency") == {"median_ms": 1.5}


def test_hosts_with_an_unreadable_description_are_skipped(tmp_path):
    s = store.Store(tmp_path / "m.sqlite")
    with contextlib.closing(sqlite3.connect(s.path)) as con:
        con.execute("INSERT INTO measurements VALUES ('h1','lenet','{}','{}','latency','[1]','{}',1)")
        con.execute("INSERT INTO measurements VALUES ('h2','lenet','{}','{}','latency','{}','{}',1)")
        con.commit()
    (h,) = s.hosts()
    assert h["host_id"] == "h2" and h["hostname"] == "?" and h["measurements"] == 1
    assert s.skipped == ["host h1: its description is not a JSON object"]


def test_a_measurement_that_cannot_be_stored_is_kept_and_named(tmp_path, monkeypatch):
    s = store.Store(tmp_path / "m.sqlite")

    def broken_put(*a, **k):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(s, "put", broken_put)
    with pytest.raises(store.NotStored) as e:
        store.record("latency", "lenet", store=s, **FAST)
    kept = tmp_path / "m.sqlite.unsaved.jsonl"
    assert e.value.kept_in == kept and str(kept) in str(e.value) and "ran but could not be stored" in str(e.value)
    assert e.value.record["result"]["median_ms"] > 0
    (line,) = kept.read_text().splitlines()
    assert json.loads(line)["result"] == e.value.record["result"]


def test_a_database_broken_after_opening_is_a_store_error_on_read(tmp_path):
    s = store.Store(tmp_path / "m.sqlite")
    make_broken(tmp_path / "m.sqlite", "not_a_database")
    with pytest.raises(store.StoreError, match="cannot be read"):
        s.rows()


# -- threads -------------------------------------------------------------------------------
@pytest.mark.parametrize("threads", [0, hostinfo.usable_cpus() + 1, 256])
def test_threads_are_at_most_this_hosts_cpus(threads):
    with pytest.raises(ArchlibError) as e:
        measure.settings(threads=threads)
    assert f"threads must be an integer in [1, {hostinfo.usable_cpus()}]" in str(e.value)
    assert "usable CPUs" in str(e.value)


def test_the_time_precheck_counts_no_speedup_past_the_cores():
    """regnet_y_128gf at 256 threads once passed a 1 s bound on 2 cores and ran 8.3 s."""
    a = archlib.analyze("regnet_y_128gf")
    cfg = {**measure.settings(max_seconds=1), "threads": 256}  # as a caller could pass it past settings()
    with pytest.raises(ArchlibError, match="max_seconds=1"):
        measure.check_bounds(a, cfg)


# -- the host lock -------------------------------------------------------------------------
def test_the_waiting_message_never_names_a_dead_process(tmp_path):
    path = tmp_path / "m.sqlite.lock"
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: its pid names no process now
    path.write_text(f"measuring latency of resnet50 (pid {dead.pid}, since 12:00:00)")  # left by a SIGKILL
    heard: list[str] = []
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # held by a process that wrote nothing (a forked child)
        with pytest.raises(hostinfo.MeasurementBusy) as e:
            with hostinfo.HostLock(path, timeout=0.3, poll=0.1, on_wait=heard.append):
                pass
    assert heard and all(f"pid {dead.pid}" not in m for m in [*heard, str(e.value)])
    assert "busy with another measurement" in heard[0]


def test_the_waiting_message_names_a_live_holder(tmp_path):
    path = tmp_path / "m.sqlite.lock"
    heard: list[str] = []
    with hostinfo.HostLock(path, what="measuring latency of resnet50"):
        with pytest.raises(hostinfo.MeasurementBusy):
            with hostinfo.HostLock(path, timeout=0.3, poll=0.1, on_wait=heard.append):
                pass
    assert "busy with measuring latency of resnet50 (pid" in heard[0]
