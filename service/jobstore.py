"""Jobs in SQLite (`<data_dir>/service/jobs.sqlite3`): the record of everything acknowledged.

A job row is written only once its upload is complete and checked, and every state change is
committed before it is reported, so a crash loses nothing a client was told about. WAL mode
keeps readers (GetJob, ListJobs) from waiting on the progress writes of running jobs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})

SCHEMA_VERSION = 2  # 2: input_name column; encode kinds named "<codec>.encode"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    options TEXT NOT NULL DEFAULT '{}',
    input_bytes INTEGER NOT NULL DEFAULT 0,
    result_bytes INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code INTEGER NOT NULL DEFAULT 0,
    error_message TEXT NOT NULL DEFAULT '',
    last_event TEXT,
    result_info TEXT NOT NULL DEFAULT '{}',
    input_name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
"""
_JSON_FIELDS = ("options", "last_event", "result_info")


@dataclass
class JobRecord:
    id: str
    kind: str
    state: str = QUEUED
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    input_bytes: int = 0
    result_bytes: int = 0
    attempts: int = 0
    error_code: int = 0  # google.rpc.Code; 0 = none
    error_message: str = ""
    last_event: dict[str, Any] | None = None  # a ProgressEvent.to_dict()
    result_info: dict[str, float] = field(default_factory=dict)
    input_name: str = ""  # the upload's file name in the job's directory ("" : the job took no input)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def _to_row(rec: JobRecord) -> dict[str, Any]:
    row = dict(rec.__dict__)
    for name in _JSON_FIELDS:
        row[name] = None if row[name] is None else json.dumps(row[name])
    return row


def _from_row(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = None if data[name] is None else json.loads(data[name])
    return JobRecord(**data)


class JobStore:
    """Thread-safe: one connection behind a lock (calls take microseconds to milliseconds)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path} was written by a newer server (schema {version} > {SCHEMA_VERSION})")
        if version == 1:
            self._migrate_from_v1()
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate_from_v1(self) -> None:
        """v1 kept the upload's name in options["filename"] and called HNeRV encodes "video.encode";
        its jobs (queued or interrupted ones too) carry on under v2."""
        from service.jobs import input_suffix

        self._db.execute("BEGIN")
        self._db.execute("ALTER TABLE jobs ADD COLUMN input_name TEXT NOT NULL DEFAULT ''")
        for row in self._db.execute("SELECT id, kind, options FROM jobs").fetchall():
            options = json.loads(row["options"])
            name = "input" + input_suffix(options.pop("filename", ""))
            options.pop("total_bytes", None)
            kind = "hnerv.encode" if row["kind"] == "video.encode" else row["kind"]
            self._db.execute(
                "UPDATE jobs SET kind = ?, options = ?, input_name = ? WHERE id = ?",
                (kind, json.dumps(options), name, row["id"]),
            )
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(self, rec: JobRecord) -> None:
        row = _to_row(rec)
        cols = ", ".join(row)
        marks = ", ".join(f":{c}" for c in row)
        with self._lock:
            self._db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", row)

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _from_row(row)

    def update(self, job_id: str, **changes: Any) -> None:
        if not changes:
            return
        unknown = set(changes) - set(JobRecord.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        row = {k: (json.dumps(v) if k in _JSON_FIELDS and v is not None else v) for k, v in changes.items()}
        sets = ", ".join(f"{k} = :{k}" for k in row)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {sets} WHERE id = :_id", {**row, "_id": job_id})

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0

    def list(self, states: Iterable[str] = (), kind: str = "", limit: int = 100) -> list[JobRecord]:
        """Newest first."""
        where, args = [], []
        states = list(states)
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args += states
        if kind:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT * FROM jobs" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_from_row(r) for r in rows]

    def oldest_first(self, state: str) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state = ? ORDER BY created_at, id", (state,)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def expired(self, now: float, ttl_s: float) -> list[str]:
        """Ids of terminal jobs that finished more than `ttl_s` ago."""
        marks = ", ".join("?" * len(TERMINAL))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id FROM jobs WHERE state IN ({marks}) AND finished_at < ?",
                (*sorted(TERMINAL), now - ttl_s),
            ).fetchall()
        return [r[0] for r in rows]

    def used_bytes(self) -> int:
        """Bytes of uploads and results held for every stored job (the disk quota's measure)."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(input_bytes + result_bytes), 0) FROM jobs").fetchone()
        return int(row[0])

    def count(self, states: Iterable[str]) -> int:
        states = list(states)
        with self._lock:
            row = self._db.execute(
                f"SELECT COUNT(*) FROM jobs WHERE state IN ({', '.join('?' * len(states))})", states
            ).fetchone()
        return int(row[0])
