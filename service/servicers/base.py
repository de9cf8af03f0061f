"""What servicers that call the library share: run a call on the I/O executor, inside the server's
data dir, so the library finds the server's model store (contextvars do not cross into executor
threads by themselves)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from service.config import Limits


class DataDirServicer:
    def __init__(self, limits: Limits, executor: ThreadPoolExecutor, data_dir: Path) -> None:
        self.limits, self.executor, self.data_dir = limits, executor, data_dir

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        def in_data_dir() -> Any:
            from codec.datadir import use_data_dir

            with use_data_dir(self.data_dir):
                return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self.executor, in_data_dir)
