"""The probe engine: raw asyncio streams, a fresh connection per probe, blackbox-style phases.

One attempt = resolve (dns) -> refuse blocked addresses -> connect -> TLS -> send the request and
wait for the first response byte (ttfb) -> read the bounded body (transfer) -> follow redirects
(every hop re-resolved and re-checked) -> evaluate ``expect``. Each attempt runs under one
``asyncio.timeout`` holding what is left of ``check.timeout_s``, so a server that accepts and never
answers costs exactly the check's timeout. A failed attempt is retried at once ``check.retries``
times (default 1), within what is left of the same timeout, before it counts; the result says how
many attempts were made. A retry that fails only because that leftover ran out reports the earlier
attempt's finding (e.g. ``too_slow`` with its status code and timings), not ``timeout``.

Durations are measured with ``time.perf_counter`` (elapsed time, not a clock reading); the
certificate expiry is compared with ``clock.now()`` (the simulated clock under ``local``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from .. import clock
from ..adapters.secrets import SecretResolver
from ..config import Check, is_secret_ref
from ..urls import display_url
from .conditions import check_conditions, observed
from .dependencies import read_dependencies
from .evidence import body_excerpt
from .expect import body_text, check_cert, check_latency, check_response
from .http11 import MAX_BODY_BYTES, ProtocolError, build_request, read_response
from .result import NOT_PROBED, ProbeResult, Timings
from .targets import blocked_reason
from .tls import TlsSetupError, cert_days_left, client_context

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Headers never carried to a different origin on a redirect (plus any header whose value was a
# secret reference): credentials, and a Host override that named the first origin.
_ORIGIN_BOUND_HEADERS = {"authorization", "proxy-authorization", "cookie", "host"}

Resolver = Callable[[str, int], Awaitable[list[tuple[int, str]]]]


class _Failure(Exception):
    def __init__(self, reason: str, phase: str, error: str):
        super().__init__(error)
        self.reason = reason
        self.phase = phase
        self.error = error


async def system_resolver(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) pairs from the OS resolver, in its order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[tuple[int, str], None] = {}
    for family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault((family, str(sockaddr[0])), None)
    return list(seen)


REGION_HEADER = "X-Uptime-Relay-Region"


class _Attempt:
    """Mutable state of one attempt, so a timeout can say where it struck."""

    def __init__(self, check: Check):
        self.check = check
        self.phase = "setup"
        self.timings = Timings()
        self.status: int | None = None
        self.cert_days: float | None = None
        self.final_url: str | None = check.url
        self.truncated = False
        self.body_excerpt: str | None = None
        self.connections: list[asyncio.StreamWriter] = []
        self.response: Any = None  # the last response read (http11.Response), for conditions


# --------------------------------------------------------------------------------------- public
async def probe(
    check: Check,
    *,
    secrets: Any = None,
    resolver: Resolver | None = None,
    deadline: float | None = None,
    region: str | None = None,
) -> ProbeResult:
    """Probe ``check`` once (plus its retries). Never raises for anything the target does.

    ``region``: the AWS region probing; a check probed from several ``regions`` sends it as
    ``X-Uptime-Relay-Region`` (HTTP), so a target's owner can tell the regions' probes apart.

    ``secrets`` resolves header values that are secret references (``.resolve(ref)``; a
    ``SecretResolver`` is built when needed and none is given). ``resolver`` replaces the OS
    resolver (tests). ``deadline`` is a ``time.monotonic()`` instant no attempt may outlast.
    """
    resolver = resolver or system_resolver
    try:
        headers, secret_names = await _resolve_headers(check, secrets)
    except Exception as exc:  # SecretError names the reference, never a value
        return ProbeResult(
            check=check.name,
            ok=False,
            reason="error",
            error=str(exc) or type(exc).__name__,
            phase="setup",
            attempts=0,
            target=check.target,
        )
    if region and check.regions and check.kind == "http":
        headers.setdefault(REGION_HEADER, region)
    max_attempts = 1 + max(0, check.retries)
    result: ProbeResult | None = None
    attempts = 0
    # ``timeout`` bounds the whole probe, retries included (so a 55 s timeout still ends within
    # the minute); a retry gets what the first attempt left over.
    own_end = time.monotonic() + clock.real_seconds(check.timeout_s)
    ends = own_end if deadline is None else min(own_end, deadline)
    while attempts < max_attempts:
        budget = ends - time.monotonic()
        if budget <= 0:
            if result is None:
                result = not_probed_result(check)
            break
        attempts += 1
        outcome, out_of_budget = await _attempt(check, headers, secret_names, budget, resolver)
        if out_of_budget and ends < own_end and result is None:
            # the run's deadline, not the check's own timeout, ended it: nothing was learnt
            result = not_probed_result(check)
            break
        if result is not None and out_of_budget:
            # The retry failed only because the first attempt had spent most of the timeout:
            # what the first attempt found (e.g. too_slow with its status and timings) is the
            # finding, not a timeout the retry could not have avoided.
            first = result.error or result.reason
            result.error = f"{first} (the retry had {budget:.3g}s of the timeout left and ran out)"
            break
        result = outcome
        if result.ok or result.reason == "blocked_target":
            break
    assert result is not None
    result.attempts = attempts
    return result


async def run_checks_async(
    checks: Iterable[Check],
    *,
    concurrency: int = 100,
    secrets: Any = None,
    deadline_s: float = 50.0,
    resolver: Resolver | None = None,
    region: str | None = None,
) -> list[ProbeResult]:
    """Probe every check concurrently (at most ``concurrency`` at once); results in input order.

    No attempt outlasts ``deadline_s`` from the start, so a run inside a one-minute schedule
    finishes within the minute; a check the deadline leaves unprobed (never started, or cut off
    before its own timeout) is reported ``not_probed`` (``ok`` None): unknown, not down.
    ``deadline_s`` and the checks' timeouts are seconds of the process clock (``uptime_relay.clock``:
    real time in Lambda, simulated under ``uptime-relay local``).
    """
    checks = list(checks)
    semaphore = asyncio.Semaphore(max(1, int(concurrency)))
    deadline = time.monotonic() + clock.real_seconds(deadline_s)
    if secrets is None and any(_has_secret_headers(c) for c in checks):
        secrets = _default_secrets()

    async def one(check: Check) -> ProbeResult:
        async with semaphore:
            try:
                return await probe(
                    check, secrets=secrets, resolver=resolver, deadline=deadline, region=region
                )
            except Exception as exc:  # a bug must not cost the other checks their results
                return ProbeResult(
                    check=check.name,
                    ok=False,
                    reason="error",
                    error=f"internal error: {type(exc).__name__}: {exc}",
                    phase="setup",
                    target=check.target,
                )

    return list(await asyncio.gather(*(one(c) for c in checks)))


def run_checks(
    checks: Iterable[Check],
    *,
    concurrency: int = 100,
    secrets: Any = None,
    deadline_s: float = 50.0,
    resolver: Resolver | None = None,
    region: str | None = None,
) -> list[ProbeResult]:
    """Synchronous wrapper of :func:`run_checks_async` (its own event loop; from inside a running
    loop, e.g. an async caller, that loop runs in a worker thread)."""
    coro = run_checks_async(
        checks,
        concurrency=concurrency,
        secrets=secrets,
        deadline_s=deadline_s,
        resolver=resolver,
        region=region,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe") as pool:
        return pool.submit(asyncio.run, coro).result()


# --------------------------------------------------------------------------------------- attempt
async def _attempt(
    check: Check, headers: dict[str, str], secret_names: set[str], budget: float, resolver: Resolver
) -> tuple[ProbeResult, bool]:
    """One attempt within ``budget`` seconds; also says whether it ended because the budget ran out."""
    state = _Attempt(check)
    out_of_budget = False
    started = time.perf_counter()
    reason, phase, error = "ok", None, None
    status: int | None = None
    cm = asyncio.timeout(budget)
    try:
        async with cm:
            if check.kind == "tcp":
                await _tcp(check, state, resolver)
            else:
                status = await _http(check, headers, secret_names, state, resolver)
    except _Failure as failure:
        reason, phase, error = failure.reason, failure.phase, failure.error
    except TimeoutError:
        if not cm.expired():  # an OS-level ETIMEDOUT, not our budget
            reason, phase, error = _timeout_reason(state.phase), state.phase, "operation timed out"
        else:
            reason, phase = _timeout_reason(state.phase), state.phase
            error = f"no answer within {budget:.3g}s (in the {state.phase} phase)"
            out_of_budget = True
    except Exception as exc:
        reason, phase, error = "error", state.phase, f"{type(exc).__name__}: {exc}"
    finally:
        for writer in state.connections:
            _close(writer, force=True)
    total = (time.perf_counter() - started) * 1000.0
    state.timings.total = total
    if reason == "ok":
        verdict = check_cert(check.expect, state.cert_days) or check_latency(check.expect, total)
        if not verdict and check.expect.conditions:
            seen = observed(state.response, state.timings.to_json(), state.cert_days, total)
            verdict = check_conditions(check.expect.conditions, seen)
        if verdict:
            reason, error = verdict
            phase = "expect"
    result = ProbeResult(
        check=check.name,
        ok=reason == "ok",
        reason=reason,
        status_code=state.status if state.status is not None else status,
        latency_ms=total,
        timings=state.timings,
        cert_days_left=state.cert_days,
        error=error,
        phase=phase,
        target=check.target,
        final_url=display_url(state.final_url) if check.kind == "http" and state.final_url else None,
        body_truncated=state.truncated,
        body_excerpt=state.body_excerpt if reason != "ok" else None,
    )
    if check.dependencies is not None and state.response is not None:
        seen = observed(state.response, {}, None, total)
        result.dependencies, result.dependencies_error = read_dependencies(check.dependencies, seen.body)
    return result, out_of_budget


def _timeout_reason(phase: str) -> str:
    return "connect_timeout" if phase == "connect" else "timeout"


def not_probed_result(check: Check) -> ProbeResult:
    """The run's deadline passed before this check could be probed: no verdict (``ok`` None)."""
    return ProbeResult(
        check=check.name,
        ok=None,
        reason=NOT_PROBED,
        error="the run deadline passed before this check could be probed",
        phase="setup",
        attempts=0,
        target=check.target,
    )


async def _tcp(check: Check, state: _Attempt, resolver: Resolver) -> None:
    assert check.tcp_host is not None and check.tcp_port is not None
    await _open(state, check.tcp_host, check.tcp_port, None, resolver)


async def _http(
    check: Check,
    headers: dict[str, str],
    secret_names: set[str],
    state: _Attempt,
    resolver: Resolver,
) -> int:
    assert check.url is not None
    url = check.url
    method = check.method
    body = check.body.encode("utf-8") if check.body is not None else None
    hops = 0
    previous = url
    while True:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failure("error", "redirect", f"cannot follow a redirect to {display_url(url)}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        context = None
        if parts.scheme == "https":
            state.phase = "setup"
            try:
                context = client_context(check.verify_tls, check.ca_file)
            except TlsSetupError as exc:
                raise _Failure("tls_error", "setup", str(exc)) from None
        try:
            request = build_request(method, parts, headers, body)
        except ValueError as exc:
            raise _Failure("error", "setup", f"cannot build the request: {exc}") from None
        try:
            reader, writer = await _open(state, parts.hostname, port, context, resolver)
        except _Failure as failure:
            if hops and failure.reason == "blocked_target":
                failure.error = f"{failure.error} (reached through a redirect from {display_url(previous)})"
            raise
        response = await _exchange(state, reader, writer, request, method)
        state.status = response.status
        state.response = response
        state.final_url = url
        location = response.header("location")
        if not (check.follow_redirects and response.status in REDIRECT_STATUSES and location):
            break
        if hops >= check.max_redirects:
            raise _Failure(
                "too_many_redirects",
                "redirect",
                f"more than {check.max_redirects} redirects (next: {display_url(urljoin(url, location))})",
            )
        hops += 1
        next_url = urljoin(url, location.strip())
        if _origin(next_url) != _origin(url):
            headers = {
                k: v
                for k, v in headers.items()
                if k.lower() not in _ORIGIN_BOUND_HEADERS and k.lower() not in secret_names
            }
        if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
            method, body = ("HEAD" if method == "HEAD" else "GET"), None
        previous, url = url, next_url
    state.phase = "expect"
    verdict = check_response(
        check.expect,
        response.status,
        response.body,
        response.header("content-type"),
        response.truncated,
        MAX_BODY_BYTES,
    )
    state.truncated = response.truncated
    expect = check.expect
    if verdict and (expect.body_contains is not None or expect.body_regex is not None or expect.json):
        # the body was checked: a short excerpt tells the page what came back instead
        text = body_text(response.body, response.header("content-type"))
        state.body_excerpt = body_excerpt(text, (headers[k] for k in headers if k.lower() in secret_names))
    if verdict:
        raise _Failure(verdict[0], "expect", verdict[1])
    return response.status


async def _exchange(state: _Attempt, reader, writer, request: bytes, method: str):
    state.phase = "ttfb"
    sent = time.perf_counter()
    first_byte = [sent]

    def on_first_byte() -> None:
        now = time.perf_counter()
        first_byte[0] = now
        state.timings.add("ttfb", (now - sent) * 1000.0)
        state.phase = "transfer"

    try:
        writer.write(request)
        await writer.drain()
        response = await read_response(reader, method, bound=MAX_BODY_BYTES, on_first_byte=on_first_byte)
    except ProtocolError as exc:
        raise _Failure("error", state.phase, str(exc)) from None
    except (ConnectionError, OSError) as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise _Failure("error", state.phase, f"connection lost: {_why(exc)}") from None
    state.timings.add("transfer", (time.perf_counter() - first_byte[0]) * 1000.0)
    state.truncated = state.truncated or response.truncated
    _close(writer)
    return response


async def _open(
    state: _Attempt, host: str, port: int, context: ssl.SSLContext | None, resolver: Resolver
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    state.phase = "dns"
    began = time.perf_counter()
    literal = _ip_family(host)
    if literal is not None:
        addresses = [(literal, host)]
    else:
        try:
            addresses = await resolver(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise _Failure("dns_error", "dns", f"cannot resolve {host}: {_why(exc)}") from None
        if not addresses:
            raise _Failure("dns_error", "dns", f"cannot resolve {host}: no addresses")
    state.timings.add("dns", (time.perf_counter() - began) * 1000.0)
    for _family, address in addresses:
        why = blocked_reason(ipaddress.ip_address(address.split("%", 1)[0]), port)  # no zone
        if why:
            shown = host if host == address else f"{host} ({address})"
            raise _Failure("blocked_target", "dns", f"refused to probe {shown}: {why}")

    state.phase = "connect"
    began = time.perf_counter()
    last: OSError | None = None
    for family, address in addresses:
        try:
            reader, writer = await asyncio.open_connection(address, port, family=family)
            break
        except OSError as exc:
            last = exc
    else:
        assert last is not None
        shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        if isinstance(last, ConnectionRefusedError):
            raise _Failure("connect_refused", "connect", f"connection refused by {shown}")
        if isinstance(last, TimeoutError):
            raise _Failure("connect_timeout", "connect", f"connect to {shown} timed out")
        raise _Failure("error", "connect", f"cannot connect to {shown}: {_why(last)}")
    state.connections.append(writer)
    state.timings.add("connect", (time.perf_counter() - began) * 1000.0)

    if context is not None:
        state.phase = "tls"
        began = time.perf_counter()
        try:
            await writer.start_tls(context, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            raise _Failure("tls_error", "tls", f"certificate rejected: {exc.verify_message or exc}") from None
        except ssl.SSLError as exc:
            raise _Failure("tls_error", "tls", f"TLS handshake failed: {exc.reason or exc}") from None
        except (ConnectionError, OSError) as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise _Failure(
                "tls_error", "tls", f"connection lost during the TLS handshake: {_why(exc)}"
            ) from None
        state.timings.add("tls", (time.perf_counter() - began) * 1000.0)
        days = cert_days_left(writer.get_extra_info("ssl_object"), clock.now())
        if days is not None:
            state.cert_days = days if state.cert_days is None else min(state.cert_days, days)
    return reader, writer


# --------------------------------------------------------------------------------------- helpers
async def _resolve_headers(check: Check, secrets: Any) -> tuple[dict[str, str], set[str]]:
    headers = dict(check.headers)
    refs = {name: value for name, value in headers.items() if is_secret_ref(value)}
    if not refs:
        return headers, set()
    if secrets is None:
        secrets = _default_secrets()
    for name, ref in refs.items():
        headers[name] = await asyncio.to_thread(secrets.resolve, ref)
    return headers, {name.lower() for name in refs}


def _has_secret_headers(check: Check) -> bool:
    return any(is_secret_ref(v) for v in check.headers.values())


def _default_secrets() -> SecretResolver:
    return SecretResolver()


@functools.lru_cache(maxsize=4096)
def _ip_family(host: str) -> int | None:
    """AF_INET / AF_INET6 for an IP literal, None for a name (cheap test first: names have letters)."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
        return socket.AF_INET6
    if not host[-1:].isdigit():
        return None
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return None
    return socket.AF_INET


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _close(writer: asyncio.StreamWriter, *, force: bool = False) -> None:
    """Plain TCP: a normal close (FIN). TLS, or anything unfinished: abort, never wait on the peer."""
    transport = writer.transport
    if transport.is_closing():
        return
    if force or transport.get_extra_info("ssl_object") is not None:
        transport.abort()
    else:
        transport.close()
