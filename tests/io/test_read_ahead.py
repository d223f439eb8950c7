"""read_ahead keeps order, hands errors over, and stops its thread when the consumer stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from dfdc_lake.io.read_ahead import read_ahead


def test_items_arrive_in_order_and_the_producer_runs_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(10):
            produced.append(i)
            yield i

    stream = read_ahead(source(), depth=3)
    assert next(stream) == 0
    deadline = time.monotonic() + 5
    while len(produced) < 5 and time.monotonic() < deadline:  # 1 taken + 3 waiting + 1 blocked in put
        time.sleep(0.01)
    assert len(produced) == 5  # ahead of the consumer, but bounded by depth
    assert [0, *stream] == list(range(10))
    assert list(read_ahead(range(4), depth=0)) == [0, 1, 2, 3]  # depth 0: no thread


def test_the_producers_error_is_raised_in_the_consumer() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise OSError("connection reset by peer")

    stream = read_ahead(source(), depth=2)
    assert next(stream) == 1
    with pytest.raises(OSError, match="connection reset"):
        next(stream)


def test_stopping_early_closes_the_source_and_ends_the_thread() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()  # a generator's `with open(...)` would close its file here

    before = {t.ident for t in threading.enumerate()}
    stream = read_ahead(source(), depth=2, name="test-read-ahead")
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed.wait(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        t.name == "test-read-ahead" and t.ident not in before for t in threading.enumerate()
    ):
        time.sleep(0.01)
    assert not [t for t in threading.enumerate() if t.name == "test-read-ahead"]
