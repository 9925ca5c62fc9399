"""The demo's target: an HTTP service on 127.0.0.1 with a scripted outage in simulated time.

``GET /health`` answers ``200 {"status": "ok"}`` while healthy and ``503 {"status": "down"}``
during an outage. Outages are windows of simulated time (``Outage(start, end)``, offsets from the
clock's start) or switched by hand with ``down()`` / ``up()`` (tests).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Outage:
    start: timedelta
    end: timedelta
    status: int = 503


class _Server(ThreadingHTTPServer):
    # a demo with many checks probes them all at once: the default backlog (5) would drop
    # connections and fail probes of a healthy target
    request_queue_size = 256


class DemoTarget:
    """``clock`` (a SimulatedClock, or anything with ``now()`` and ``start``) times the outages;
    it may be attached after the server started (the config needs the target's URL first)."""

    def __init__(self, clock: Any = None, outages: Sequence[Outage] = ()):
        self._clock = clock
        self.outages = list(outages)
        self._forced: int | None = None
        self.hits = 0
        self._server: ThreadingHTTPServer | None = None

    def attach(self, clock: Any) -> None:
        self._clock = clock

    # -- control
    def down(self, status: int = 503) -> None:
        self._forced = status

    def up(self) -> None:
        self._forced = 0

    def automatic(self) -> None:
        self._forced = None

    def status_now(self) -> int:
        if self._forced is not None:
            return self._forced or 200
        if self._clock is None:
            return 200
        offset = self._clock.now() - self._clock.start
        for outage in self.outages:
            if outage.start <= offset < outage.end:
                return outage.status
        return 200

    # -- server
    def start(self) -> DemoTarget:
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                target.hits += 1
                status = target.status_now() if self.path.split("?")[0] in ("/", "/health") else 404
                state = "ok" if status < 400 else ("not found" if status == 404 else "down")
                body = json.dumps({"status": state}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="demo-target", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "demo target not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DemoTarget:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
