"""A TCP proxy that delays every byte by a fixed time in each direction, keeping the bandwidth.

A loopback S3 server answers in well under a millisecond; a real object store's first byte takes
tens of milliseconds. Put this in front of the loopback server to measure a loader under that
latency: each chunk read from one side is written to the other ``delay_s`` after it arrived (a
queue per direction, so delays overlap instead of adding up).

    proxy = LatencyProxy(("127.0.0.1", 8333), delay_s=0.01)
    proxy.start()           # proxy.port now forwards to 127.0.0.1:8333, 10 ms each way
    ...
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

__all__ = ["LatencyProxy"]

_CHUNK = 256 * 1024


class LatencyProxy:
    """Forward 127.0.0.1:``port`` to ``target``, ``delay_s`` later in each direction."""

    def __init__(self, target: tuple[str, int], delay_s: float) -> None:
        self.target = target
        self.delay_s = delay_s
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the latency proxy did not start")

    def stop(self) -> None:
        """Close the listener and every open connection, then end the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer),
                self._pipe(upstream_reader, writer),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # stop(): the connection just closes (asyncio would log a cancelled handler)
        finally:
            for side in (writer, upstream_writer):
                with contextlib.suppress(Exception):
                    side.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, data = await due.get()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(_CHUNK)
                due.put_nowait((time.monotonic() + self.delay_s, data))
                if not data:  # end of stream: delivered (as a half-close) after the same delay
                    break
            await delivering
        except OSError:  # a reset connection: stop delivering to the other side
            delivering.cancel()
