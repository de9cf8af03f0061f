"""Data dir resolution and the lock a server holds on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codec.datadir import DataDirLock, DataDirLocked, check_writable, resolve_data_dir
from codec.errors import InvalidInput


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEC_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert (tmp_path / "flag").is_dir()
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("CODEC_DATA_DIR")
    assert resolve_data_dir() == tmp_path / "home" / ".local" / "share" / "neural-codec"


def test_unusable_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InvalidInput, match="cannot create data dir"):
        resolve_data_dir(blocker / "sub")


def test_exclusive_lock_blocks_everyone_and_names_the_holder(tmp_path: Path) -> None:
    with DataDirLock(tmp_path, exclusive=True):
        with pytest.raises(DataDirLocked, match=r"in use by codec serve \(pid \d+"):
            DataDirLock(tmp_path, exclusive=True).acquire()
        with pytest.raises(DataDirLocked, match="--server"):
            check_writable(tmp_path)
    check_writable(tmp_path)  # released


def test_shared_locks_coexist_but_keep_a_server_out(tmp_path: Path) -> None:
    with DataDirLock(tmp_path, exclusive=False), DataDirLock(tmp_path, exclusive=False):
        with pytest.raises(DataDirLocked, match="another codec command"):
            DataDirLock(tmp_path, exclusive=True).acquire()
    DataDirLock(tmp_path, exclusive=True).acquire().release()


def test_lock_dies_with_its_process(tmp_path: Path) -> None:
    """A SIGKILLed server leaves no stale lock behind (flock, not a pid file)."""
    code = (
        "import os, sys; from codec.datadir import DataDirLock; "
        f"DataDirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(DataDirLocked, match=f"pid {proc.pid}"):
            check_writable(tmp_path)
    finally:
        proc.kill()
        proc.wait()
    check_writable(tmp_path)
