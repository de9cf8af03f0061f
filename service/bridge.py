"""Iterate a blocking generator (a decoder on a worker thread) from async code, with backpressure.

The producer thread blocks once `maxsize` items wait, so a slow client holds at most that many
frames in memory; when the consumer stops (client gone, error) the producer stops at its next
item, and the slot it held is released only after the thread has really finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def iterate_in_thread(
    make: Callable[[], Iterable[T]], executor: Executor | None = None, maxsize: int = 2
) -> AsyncIterator[T]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item: object) -> None:
        fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while True:  # wake up now and then, so a consumer that went away (or a dead loop) frees us
            try:
                fut.result(timeout=1.0)
                return
            except concurrent.futures.TimeoutError:
                if stop.is_set() or loop.is_closed():
                    fut.cancel()
                    return

    def produce() -> None:
        try:
            for item in make():
                if stop.is_set():
                    return
                put((item, None))
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            if not stop.is_set():
                put((None, exc))
            return
        if not stop.is_set():
            put((_END, None))

    done = loop.run_in_executor(executor, produce)
    try:
        while True:
            item, exc = await queue.get()
            if exc is not None:
                raise exc
            if item is _END:
                break
            yield item
    finally:
        stop.set()
        while not queue.empty():  # unblock a producer waiting to put
            queue.get_nowait()
        with contextlib.suppress(BaseException):
            await asyncio.shield(done)
