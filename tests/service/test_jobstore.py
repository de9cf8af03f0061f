"""SQLite job store: what is written survives a reopen, queries select what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.jobstore import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobRecord, JobStore


def test_round_trip_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    rec = JobRecord(
        id="a1", kind="hnerv.encode", options={"size": 0.3}, input_bytes=10, input_name="input.mp4"
    )
    store.insert(rec)
    store.update("a1", state=RUNNING, last_event={"phase": "train", "step": 3}, attempts=1)
    store.close()
    got = JobStore(db).get("a1")
    assert got is not None
    assert (got.state, got.options, got.last_event, got.attempts) == (
        RUNNING,
        {"size": 0.3},
        {"phase": "train", "step": 3},
        1,
    )
    assert got.input_bytes == 10 and got.input_name == "input.mp4" and not got.terminal


def test_a_schema_1_store_is_migrated_and_its_jobs_carry_on(tmp_path: Path) -> None:
    """A data dir from before the codec registry: its jobs (queued ones too) keep their uploads."""
    import json
    import sqlite3

    db = tmp_path / "jobs.sqlite3"
    old = sqlite3.connect(db)
    old.executescript(
        """CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,
        created_at REAL NOT NULL, started_at REAL, finished_at REAL, options TEXT NOT NULL DEFAULT '{}',
        input_bytes INTEGER NOT NULL DEFAULT 0, result_bytes INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0, error_code INTEGER NOT NULL DEFAULT 0,
        error_message TEXT NOT NULL DEFAULT '', last_event TEXT, result_info TEXT NOT NULL DEFAULT '{}');
        PRAGMA user_version=1;"""
    )
    options = {"size": 0.03, "epochs": 2, "filename": "clip.MP4", "total_bytes": 1234}
    old.execute(
        "INSERT INTO jobs (id, kind, state, created_at, options) VALUES (?, ?, ?, ?, ?)",
        ("q1", "video.encode", QUEUED, 1.0, json.dumps(options)),
    )
    old.commit()
    old.close()
    store = JobStore(db)
    got = store.get("q1")
    assert (got.kind, got.options, got.input_name) == (
        "hnerv.encode",
        {"size": 0.03, "epochs": 2},
        "input.mp4",
    )
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == 2


def test_list_filters_and_orders_newest_first(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "j.db")
    for i, state in enumerate([QUEUED, RUNNING, SUCCEEDED, FAILED]):
        store.insert(
            JobRecord(
                id=f"j{i}",
                kind="video.encode" if i < 3 else "image.encode",
                state=state,
                created_at=100.0 + i,
            )
        )
    assert [r.id for r in store.list()] == ["j3", "j2", "j1", "j0"]
    assert [r.id for r in store.list([QUEUED, SUCCEEDED])] == ["j2", "j0"]
    assert [r.id for r in store.list(kind="image.encode")] == ["j3"]
    assert [r.id for r in store.list(limit=2)] == ["j3", "j2"]
    assert [r.id for r in store.oldest_first(QUEUED)] == ["j0"]
    assert store.count([QUEUED, RUNNING]) == 2


def test_expiry_and_usage(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "j.db")
    store.insert(
        JobRecord(id="old", kind="k", state=SUCCEEDED, finished_at=1000.0, input_bytes=5, result_bytes=7)
    )
    store.insert(JobRecord(id="new", kind="k", state=CANCELLED, finished_at=1990.0, input_bytes=100))
    store.insert(JobRecord(id="run", kind="k", state=RUNNING, input_bytes=1000))
    assert store.expired(now=2000.0, ttl_s=60.0) == ["old"]
    assert store.used_bytes() == 1112
    assert store.delete("old") and not store.delete("old")
    assert store.used_bytes() == 1100


def test_rejects_unknown_fields_and_newer_schema(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "j.db")
    store.insert(JobRecord(id="a", kind="k"))
    with pytest.raises(ValueError, match="unknown job fields"):
        store.update("a", colour="red")
    store._db.execute("PRAGMA user_version=99")
    store.close()
    with pytest.raises(RuntimeError, match="newer server"):
        JobStore(tmp_path / "j.db")
