"""Read ahead of a consumer: an iterator's next items are produced in a background thread.

The lake's readers (pyarrow record batches, S3 range requests) release the GIL while they wait on the
network or the disk, so a thread fetching the next items overlaps that wait with the consumer's own
work (decoding crops). ``read_ahead`` keeps at most ``depth`` items waiting, re-raises the producer's
error in the consumer, and stops the thread when the consumer stops early.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")

_POLL_S = 0.1  # how often a producer blocked on a full queue checks whether the consumer has gone


class _End:
    """The item that ends the stream, carrying the producer's error if it failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterable[T], depth: int, name: str = "read-ahead") -> Iterator[T]:
    """Yield ``items`` in order while a daemon thread produces up to ``depth`` of them in advance.

    ``depth <= 0`` iterates in the caller's thread. When the returned generator is closed (or
    dropped) before the end, the thread finishes the item it is producing, closes ``items`` if it is
    a generator (so that its files are closed) and exits.
    """
    if depth <= 0:
        yield from items
        return
    waiting: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put(item):
                    return
            put(_End())
        except BaseException as error:  # handed over: the consumer re-raises it
            put(_End(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = waiting.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
