"""SQLite job store: what is written survives a reopen, queries select what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.jobstore import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobRecord, JobStore


def test_round_trip_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    rec = JobRecord(id="a1", kind="video.encode", options={"size": 0.3, "filename": "x.mp4"}, input_bytes=10)
    store.insert(rec)
    store.update("a1", state=RUNNING, last_event={"phase": "train", "step": 3}, attempts=1)
    store.close()
    got = JobStore(db).get("a1")
    assert got is not None
    assert (got.state, got.options, got.last_event, got.attempts) == (
        RUNNING,
        {"size": 0.3, "filename": "x.mp4"},
        {"phase": "train", "step": 3},
        1,
    )
    assert got.input_bytes == 10 and not got.terminal


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
