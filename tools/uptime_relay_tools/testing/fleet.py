"""A loopback target for many checks at once (asyncio, one thread or its own process).

Paths:
- ``/ok/...``: 200 ``ok``.
- ``/hang/...``: reads the request and never answers (the connection stays open until the
  prober gives up): a check hanging until its timeout.
- ``/switch/<name>``: 503 while ``name`` is in ``down``, else 200 (tests flip it).
- ``/regions/<name>``: 503 when the probe's ``X-Uptime-Relay-Region`` is in ``failing[name]``,
  else 200: a check that fails from some regions only.

Cheap enough for thousands of concurrent connections: no thread per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

REGION_HEADER = b"x-uptime-relay-region:"


class FleetTarget:
    def __init__(self) -> None:
        self.down: set[str] = set()
        self.failing: dict[str, set[str]] = {}
        self.requests = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._hanging: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FleetTarget:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> FleetTarget:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=4096)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fleet-target", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop = self._loop

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._hanging):
                writer.transport.abort()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # ------------------------------------------------------------------ serving
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        self.requests += 1
        line, _, rest = head.partition(b"\r\n")
        parts = line.split(b" ")
        path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
        if path.startswith("/hang/"):
            self._hanging.add(writer)
            with contextlib.suppress(Exception):
                await reader.read()  # until the prober closes
            self._hanging.discard(writer)
            writer.close()
            return
        status = 200
        if path.startswith("/switch/") and path[len("/switch/") :] in self.down:
            status = 503
        elif path.startswith("/regions/"):
            region = ""
            for header in rest.split(b"\r\n"):
                if header.lower().startswith(REGION_HEADER):
                    region = header[len(REGION_HEADER) :].strip().decode("latin-1")
            if region in self.failing.get(path[len("/regions/") :], set()):
                status = 503
        body = b"ok" if status == 200 else b"down"
        reason = b"OK" if status == 200 else b"Service Unavailable"
        writer.write(
            b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (status, reason, len(body), body)
        )
        with contextlib.suppress(Exception):
            await writer.drain()
        writer.close()


def serve_in_process(port_pipe: Any) -> None:
    """Entry point of a separate process (benchmarks: the target's CPU is not the prober's)."""
    target = FleetTarget().start()
    port_pipe.send(target.port)
    threading.Event().wait()
