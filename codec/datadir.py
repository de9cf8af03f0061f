"""Where a run keeps its state, and who may write there.

The data dir is `--data-dir`, else `$CODEC_DATA_DIR`, else `~/.local/share/neural-codec`.
A running server owns its data dir: it holds an exclusive `flock` on `<data_dir>/.lock` for its
whole life. CLI commands that write to a data dir take a shared lock for the duration of the
write, so they refuse to run beside a server (and a server refuses to start beside them), while
several CLI commands may share one dir. flock locks die with the process, so a crash or SIGKILL
never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from codec.errors import InvalidInput

ENV_VAR = "CODEC_DATA_DIR"
DEFAULT_DATA_DIR = Path("~/.local/share/neural-codec")
LOCK_NAME = ".lock"


class DataDirLocked(InvalidInput):
    """Another process (normally a `codec serve`) holds the data dir."""


_CURRENT: contextvars.ContextVar[Path | None] = contextvars.ContextVar("codec_data_dir", default=None)


@contextlib.contextmanager
def use_data_dir(path: str | os.PathLike[str]) -> Iterator[None]:
    """Within the block (this thread or task), library calls that are given no data dir use `path`:
    a server's jobs find its model store, not the one of whoever started the process."""
    token = _CURRENT.set(Path(path))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data dir to use, created if missing (an absolute path): `explicit`, else the one set by
    `use_data_dir`, else $CODEC_DATA_DIR, else the default."""
    raw = (
        explicit
        if explicit not in (None, "")
        else _CURRENT.get() or os.environ.get(ENV_VAR) or DEFAULT_DATA_DIR
    )
    path = Path(raw).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidInput(f"cannot create data dir {path}: {e.strerror}") from e
    if not os.access(path, os.W_OK):
        raise InvalidInput(f"data dir {path} is not writable")
    return path


class DataDirLock:
    """`with DataDirLock(dir):` holds `<dir>/.lock`; exclusive for a server, shared for CLI writers."""

    def __init__(self, data_dir: str | os.PathLike[str], exclusive: bool = True, owner: str = "") -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self.exclusive = exclusive
        self.owner = owner or ("codec serve" if exclusive else "codec")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DataDirLock:
        if self._fd is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataDirLocked(_locked_message(self.data_dir, holder, self.exclusive)) from None
        if self.exclusive:
            # Only the exclusive holder writes who it is; shared holders leave the file alone.
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "owner": self.owner,
                "since": time.time(),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if self.exclusive:
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def check_writable(data_dir: str | os.PathLike[str]) -> None:
    """Raise `DataDirLocked` if a server holds `data_dir`; for CLI commands about to write there.

    A quick probe; commands that write for a long time should hold `DataDirLock(dir, exclusive=False)`.
    """
    DataDirLock(data_dir, exclusive=False).acquire().release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (ValueError, OSError):
        return {}


def _locked_message(data_dir: Path, holder: dict, exclusive: bool) -> str:
    if holder.get("pid"):
        who = f"{holder.get('owner', 'a server')} (pid {holder['pid']} on {holder.get('host', '?')})"
        return (
            f"data dir {data_dir} is in use by {who}; stop it, pick another --data-dir, "
            "or send the work to that server with --server"
        )
    if exclusive:
        return f"data dir {data_dir} is in use by another codec command; wait or pick another --data-dir"
    return f"data dir {data_dir} is locked by another process; pick another --data-dir"
