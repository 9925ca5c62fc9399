"""Just enough HTTP/1.1 for a prober: one request per fresh connection, a bounded body read.

Bodies framed by Content-Length, chunked transfer-encoding or the end of the connection are
supported; interim 1xx responses are skipped. Bodies are read up to ``bound`` bytes: the rest is
not read (the connection is closed anyway) and the response says it was truncated.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote

from .. import __version__

USER_AGENT = f"uptime-relay/{__version__}"
MAX_HEADER_LINES = 200
MAX_BODY_BYTES = 1024 * 1024
_UNSAFE = re.compile(r"[\r\n\0]")


class ProtocolError(Exception):
    """The peer did not speak HTTP/1.x as expected."""


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeats joined by ", "
    body: bytes = b""
    truncated: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def host_header(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    else:
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            host = host.encode("idna").decode("ascii")
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def build_request(method: str, parts: SplitResult, headers: Mapping[str, str], body: bytes | None) -> bytes:
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    base = {
        "Host": host_header(parts),
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Connection": "close",
    }
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        base["Authorization"] = "Basic " + base64.b64encode(creds).decode("ascii")
    lowered = {k.lower(): k for k in base}
    for name, value in headers.items():
        if lowered.get(name.lower()):
            del base[lowered.pop(name.lower())]
        base[name] = value
    if body is not None or method in ("POST", "PUT", "PATCH"):
        base = {k: v for k, v in base.items() if k.lower() != "content-length"}
        base["Content-Length"] = str(len(body or b""))
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in base.items():
        if _UNSAFE.search(name) or _UNSAFE.search(value) or not name or ":" in name:
            raise ValueError(f"header {name!r} contains a line break, NUL or colon")
        lines.append(f"{name}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
    return head + (body or b"")


async def read_response(
    reader: asyncio.StreamReader,
    method: str,
    *,
    bound: int = MAX_BODY_BYTES,
    on_first_byte: Callable[[], None] | None = None,
) -> Response:
    """Read one response (skipping interim 1xx). ``on_first_byte`` fires when the response head
    (status line and headers, one read) has landed: the server's answer, as blackbox's ttfb."""
    first = True
    while True:
        head = await _head(reader)
        if first:
            first = False
            if on_first_byte is not None:
                on_first_byte()
        status, reason, headers = _parse_head(head)
        if 100 <= status < 200 and status != 101:
            continue
        response = Response(status, reason, headers)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return response
        await _body(reader, response, bound)
        return response


async def _head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ProtocolError("connection closed before any response") from None
        if not exc.partial.startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x response: {_first_line(exc.partial)!r}") from None
        raise ProtocolError("connection closed inside the response headers") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError("response headers over 64 KiB") from None


def _first_line(data: bytes) -> str:
    return data.split(b"\n", 1)[0].decode("latin-1").rstrip("\r")[:60]


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ProtocolError(f"not an HTTP/1.x response: {lines[0][:60]!r}")
    if len(lines) > MAX_HEADER_LINES:
        raise ProtocolError(f"more than {MAX_HEADER_LINES} response header lines")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue  # the blank end lines, junk, obsolete folding: a prober reports, it does not judge
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readline()
    except ValueError:  # over the stream limit (64 KiB)
        raise ProtocolError("chunk size line over 64 KiB") from None


async def _body(reader: asyncio.StreamReader, response: Response, bound: int) -> None:
    encoding = (response.header("transfer-encoding") or "").lower()
    length = response.header("content-length")
    if "chunked" in encoding:
        await _chunked(reader, response, bound)
    elif length is not None:
        try:
            size = int(length.split(",")[0].strip())
        except ValueError:
            raise ProtocolError(f"bad Content-Length {length!r}") from None
        want = min(size, bound)
        try:
            response.body = await reader.readexactly(want)
        except asyncio.IncompleteReadError as exc:
            raise ProtocolError(f"connection closed after {len(exc.partial)} of {size} body bytes") from None
        response.truncated = size > bound
    else:
        chunks: list[bytes] = []
        got = 0
        while got <= bound:
            chunk = await reader.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        data = b"".join(chunks)
        response.body = data[:bound]
        response.truncated = len(data) > bound


async def _chunked(reader: asyncio.StreamReader, response: Response, bound: int) -> None:
    parts: list[bytes] = []
    got = 0
    while True:
        line = await _line(reader)
        if not line:
            raise ProtocolError("connection closed inside a chunked body")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line {line[:40]!r}") from None
        if size == 0:
            while (trailer := await _line(reader)) not in (b"\r\n", b"\n", b""):
                del trailer
            break
        if got + size > bound:
            take = bound - got
            parts.append(await _exactly(reader, take))
            response.truncated = True
            break
        parts.append(await _exactly(reader, size))
        await _exactly(reader, 2)  # CRLF after the chunk data
        got += size
    response.body = b"".join(parts)


async def _exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(f"connection closed inside a chunk ({len(exc.partial)} of {n} bytes)") from None
