"""In-process targets for the probe tests: raw HTTP/1.1 servers on 127.0.0.1 (threads).

``Target`` reads one request per connection and answers with whatever the route for its path
returns (bytes sent as is, so tests control framing: Content-Length, chunked, or close-delimited).
``Target(hang=True)`` accepts connections and never answers; ``Target(banner=b"...")`` writes
its banner on accept and closes. ``tls=`` wraps each connection in a
server-side TLS context from a trustme CA.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import trustme


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    data: bytes
    delay: float = 0.0  # seconds before the reply is sent


Route = Callable[[Request], "bytes | Reply"]


def http(
    status: int = 200,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
    length: bool = True,
    reason: str = "OK",
) -> bytes:
    """A complete HTTP/1.1 response (Content-Length, chunked, or close-delimited when length=False)."""
    data = body.encode() if isinstance(body, str) else body
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        step = max(1, len(data) // 3 or 1)
        framed = b"".join(
            f"{len(data[i : i + step]):x};ext=1\r\n".encode() + data[i : i + step] + b"\r\n"
            for i in range(0, len(data), step)
        )
        payload = framed + b"0\r\nX-Trailer: yes\r\n\r\n"
    else:
        if length:
            lines.append(f"Content-Length: {len(data)}")
        payload = data
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def redirect(location: str, status: int = 302) -> bytes:
    return http(status, b"", {"Location": location}, reason="Found")


@dataclass
class Target:
    routes: dict[str, Route | bytes] = field(default_factory=dict)
    default: Route | bytes | None = None
    tls: trustme.LeafCert | None = None
    hang: bool = False
    banner: bytes | None = None  # sent as soon as a connection is accepted, then closed (no request read)

    def __post_init__(self) -> None:
        self.requests: list[Request] = []
        self.hits: Counter[str] = Counter()
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._ctx = None
        if self.tls is not None:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.configure_cert(self._ctx)
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- addresses
    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    # -- lifecycle
    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- serving
    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.hang:
                self._stop.wait()
                return
            conn.settimeout(5)
            if self.banner is not None:
                conn.sendall(self.banner)
                return
            if self._ctx is not None:
                try:
                    conn = self._ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    return
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            self.hits[request.path] += 1
            route = self.routes.get(request.path, self.default)
            if route is None:
                reply: bytes | Reply = http(404, "not found")
            elif isinstance(route, bytes):
                reply = route
            else:
                reply = route(request)
            if isinstance(reply, Reply):
                if reply.delay:
                    self._stop.wait(reply.delay)
                reply = reply.data
            try:
                conn.sendall(reply)
            except OSError:
                return
        finally:
            try:
                conn.close()
            except OSError:
                pass


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Request(method, path, headers, rest[:length])


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def fails_first(times: int, then: bytes, first: bytes | None = None) -> Route:
    """A route that answers 500 (or ``first``) to its first ``times`` requests, then ``then``."""
    seen = {"n": 0}

    def route(_request: Request) -> bytes:
        seen["n"] += 1
        return (first or http(500, "warming up")) if seen["n"] <= times else then

    return route


def slow(data: bytes, delay: float) -> Route:
    return lambda _request: Reply(data, delay=delay)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
