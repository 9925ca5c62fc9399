"""The probe engine against real in-process servers on 127.0.0.1 (plain HTTP and TCP).

No test asserts on how long anything took: slow and hanging servers are inputs, reasons are outputs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from probe_servers import Reply, Request, Target, closed_port, fails_first, http, redirect, slow
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config import Check, Expect, StatusRange
from uptime_relay.probe import REASONS, probe, run_checks
from uptime_relay.probe.expect import lookup, same_value
from uptime_relay.probe.http11 import MAX_BODY_BYTES, read_response
from uptime_relay.probe.targets import blocked_reason

CONTRACT_KEYS = [
    "check",
    "ok",
    "reason",
    "status_code",
    "latency_ms",
    "timings_ms",
    "cert_days_left",
    "error",
]
TIMING_KEYS = ["dns", "connect", "tls", "ttfb", "transfer", "total"]


def one(check: Check, **kwargs):
    return run_checks([check], **kwargs)[0]


def chk(url: str, **kwargs) -> Check:
    kwargs.setdefault("timeout_s", 5.0)
    return Check(name=kwargs.pop("name", "api"), url=url, **kwargs)


@pytest.fixture
def target():
    with Target(default=http(200, '{"status": "ok", "db": {"healthy": true}, "items": [{"id": 7}]}')) as t:
        yield t


# ------------------------------------------------------------------------------------ happy path
def test_a_healthy_endpoint_is_ok_with_every_phase_timed(target):
    result = one(chk(target.url("/health")))
    doc = result.to_json()
    assert list(doc)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert list(doc["timings_ms"]) == TIMING_KEYS
    assert (doc["ok"], doc["reason"], doc["status_code"], doc["error"]) == (True, "ok", 200, None)
    assert doc["timings_ms"]["tls"] is None  # plain HTTP never reaches TLS
    assert all(doc["timings_ms"][k] >= 0 for k in ("dns", "connect", "ttfb", "transfer", "total"))
    assert doc["latency_ms"] == doc["timings_ms"]["total"]
    assert doc["attempts"] == 1 and doc["phase"] is None
    assert json.loads(json.dumps(doc)) == doc


def test_it_sends_method_headers_and_body_on_a_fresh_connection(target):
    check = chk(target.url("/submit?x=1"), method="POST", headers={"X-Probe": "1"}, body='{"a": 1}')
    assert one(check).ok
    request = target.requests[-1]
    assert (request.method, request.path, request.body) == ("POST", "/submit?x=1", b'{"a": 1}')
    assert request.headers["x-probe"] == "1"
    assert request.headers["host"] == f"127.0.0.1:{target.port}"
    assert request.headers["connection"] == "close"


def test_header_secret_references_are_resolved_through_the_resolver(target):
    secrets = StaticSecrets({"env:PROBE_TOKEN": "s3cret"})
    check = chk(target.url("/"), headers={"Authorization": "env:PROBE_TOKEN"})
    assert one(check, secrets=secrets).ok
    assert target.requests[-1].headers["authorization"] == "s3cret"
    assert secrets.requested == ["env:PROBE_TOKEN"]


def test_an_unresolvable_secret_fails_the_check_naming_the_reference_only(target):
    result = one(chk(target.url("/"), headers={"X-Key": "ssm:/missing"}), secrets=StaticSecrets())
    assert (result.ok, result.reason, result.phase) == (False, "error", "setup")
    assert "ssm:/missing" in result.error
    assert target.requests == []


def test_a_name_is_resolved_by_the_system_resolver(target):
    result = one(chk(target.url("/", host="localhost")))
    assert result.ok, result.error


def test_a_tcp_check_only_connects():
    with Target(hang=True) as t:
        result = one(Check(name="db", tcp_host="127.0.0.1", tcp_port=t.port, timeout_s=5))
        assert (result.ok, result.reason, result.status_code) == (True, "ok", None)
        timings = result.to_json()["timings_ms"]
        assert timings["connect"] is not None and timings["ttfb"] is None and timings["tls"] is None


def test_a_refused_tcp_check_is_connect_refused():
    result = one(Check(name="db", tcp_host="127.0.0.1", tcp_port=closed_port(), timeout_s=5))
    assert (result.reason, result.phase) == ("connect_refused", "connect")


# ------------------------------------------------------------------------------------ network failures
def test_a_closed_port_is_connect_refused_after_one_retry():
    result = one(chk(f"http://127.0.0.1:{closed_port()}/"))
    assert (result.ok, result.reason, result.phase, result.attempts) == (
        False,
        "connect_refused",
        "connect",
        2,
    )
    assert result.to_json()["timings_ms"]["connect"] is None


def test_a_name_that_does_not_resolve_is_dns_error():
    async def nxdomain(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = one(chk("http://nonexistent.invalid/", retries=0), resolver=nxdomain)
    assert (result.reason, result.phase) == ("dns_error", "dns")
    assert "nonexistent.invalid" in result.error
    assert result.to_json()["timings_ms"]["dns"] is None


def test_a_server_that_accepts_and_never_answers_times_out_at_the_check_timeout():
    with Target(hang=True) as t:
        result = one(chk(t.url("/"), timeout_s=0.3, retries=0))
    assert (result.ok, result.reason, result.phase) == (False, "timeout", "ttfb")
    assert "0.3s" in result.error
    timings = result.to_json()["timings_ms"]
    assert timings["connect"] is not None and timings["ttfb"] is None and timings["total"] is not None


def test_the_timeout_bounds_the_whole_probe_retries_included():
    with Target(hang=True) as t:
        result = one(chk(t.url("/"), timeout_s=0.3, retries=1))
        assert t.connections == 1  # nothing left of the budget for a retry
    assert (result.reason, result.attempts) == ("timeout", 1)


def test_a_connect_that_never_completes_is_connect_timeout(monkeypatch):
    async def never_connects(*args, **kwargs):
        await asyncio.Event().wait()

    monkeypatch.setattr("uptime_relay.probe.engine.asyncio.open_connection", never_connects)
    result = one(chk("http://127.0.0.1:9/", timeout_s=0.2, retries=0))
    assert (result.reason, result.phase) == ("connect_timeout", "connect")


def test_a_peer_that_closes_without_answering_is_an_error_in_ttfb():
    with Target(default=b"") as t:
        result = one(chk(t.url("/"), retries=0))
    assert (result.reason, result.phase) == ("error", "ttfb")
    assert "closed" in result.error


def test_a_peer_that_is_not_http_is_an_error():
    with Target(default=b"SSH-2.0-OpenSSH_9.6\r\n") as t:
        result = one(chk(t.url("/"), retries=0))
    assert result.reason == "error" and "not an HTTP" in result.error


def test_a_body_cut_short_is_an_error_in_transfer():
    cut = http(200, "x" * 100)[:-50]
    with Target(default=cut) as t:
        result = one(chk(t.url("/"), retries=0))
    assert (result.reason, result.phase) == ("error", "transfer")
    assert "50 of 100" in result.error


def test_response_headers_over_the_limit_are_an_error():
    huge = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n\r\nok"
    with Target(default=huge) as t:
        result = one(chk(t.url("/"), retries=0))
    assert (result.reason, result.error) == ("error", "response headers over 64 KiB")


def test_a_redirect_to_something_other_than_http_is_an_error():
    with Target(routes={"/": redirect("ftp://files.example.com/x")}) as t:
        result = one(chk(t.url("/"), retries=0))
    assert (result.reason, result.phase, result.status_code) == ("error", "redirect", 302)
    assert "ftp://files.example.com/x" in result.error


# ------------------------------------------------------------------------------------ expectations
def test_an_unexpected_status_is_status_mismatch():
    with Target(default=http(503, "down")) as t:
        result = one(chk(t.url("/"), expect=Expect(status=(StatusRange(200, 200), StatusRange(204, 204)))))
    assert (result.reason, result.phase, result.status_code) == ("status_mismatch", "expect", 503)
    assert result.error == "status 503, expected 200, 204"


def test_the_default_expectation_accepts_2xx_and_3xx_and_refuses_4xx():
    with Target(routes={"/a": http(204), "/b": http(404)}) as t:
        a, b = run_checks([chk(t.url("/a"), name="a"), chk(t.url("/b"), name="b")])
    assert (a.ok, b.reason) == (True, "status_mismatch")


def test_body_contains_and_regex(target):
    ok, missing, regex_ok, regex_bad = run_checks(
        [
            chk(target.url("/"), name="a", expect=Expect(body_contains='"status": "ok"')),
            chk(target.url("/"), name="b", expect=Expect(body_contains="healthy: false")),
            chk(target.url("/"), name="c", expect=Expect(body_regex=r'"status":\s*"ok"')),
            chk(target.url("/"), name="d", expect=Expect(body_regex=r"^down$")),
        ]
    )
    assert ok.ok and regex_ok.ok
    assert (missing.reason, regex_bad.reason) == ("body_mismatch", "body_mismatch")
    assert missing.error == 'body does not contain "healthy: false"'
    assert regex_bad.error == "body does not match /^down$/"


def test_json_dotted_paths(target):
    good, wrong, missing = run_checks(
        [
            chk(
                target.url("/"),
                name="a",
                expect=Expect(json={"status": "ok", "db.healthy": True, "items.0.id": 7}),
            ),
            chk(target.url("/"), name="b", expect=Expect(json={"db.healthy": False})),
            chk(target.url("/"), name="c", expect=Expect(json={"db.latency": 1})),
        ]
    )
    assert good.ok, good.error
    assert (wrong.reason, wrong.error) == ("json_mismatch", "json db.healthy: expected false, got true")
    assert (missing.reason, missing.error) == ("json_mismatch", "json db.latency: missing")


def test_a_body_that_is_not_json_is_json_mismatch():
    with Target(default=http(200, "<html>ok</html>")) as t:
        result = one(chk(t.url("/"), expect=Expect(json={"status": "ok"})))
    assert result.reason == "json_mismatch" and result.error.startswith("body is not JSON")


def test_a_slow_answer_is_too_slow_when_over_max_latency():
    with Target(default=slow(http(200, "ok"), 0.25)) as t:
        result = one(chk(t.url("/"), expect=Expect(max_latency_ms=50), retries=0))
    assert (result.ok, result.reason, result.phase, result.status_code) == (False, "too_slow", "expect", 200)
    assert "limit 50 ms" in result.error


def test_a_slow_answer_within_the_timeout_is_ok():
    with Target(default=slow(http(200, "ok"), 0.2)) as t:
        assert one(chk(t.url("/"), timeout_s=5)).ok


def test_lookup_and_strict_equality():
    doc = {"a": {"b": [1, {"c": None}]}, "x.y": 2}
    assert lookup(doc, "a.b.1.c") is None
    assert lookup(doc, "x.y") == 2
    assert lookup(doc, "a.b.9") is not None and lookup(doc, "a.b.9") is lookup(doc, "nope")
    assert same_value(1, 1.0) and not same_value(True, 1) and not same_value(1, True)


# ------------------------------------------------------------------------------------ bodies
def test_a_chunked_body_is_reassembled():
    body = '{"status": "ok", "pad": "' + "x" * 5000 + '"}'
    with Target(default=http(200, body, chunked=True)) as t:
        result = one(chk(t.url("/"), expect=Expect(json={"status": "ok"}, body_regex=r"x{5000}")))
    assert result.ok, result.error


def test_a_close_delimited_body_is_read_to_the_end():
    with Target(default=http(200, "all good", length=False)) as t:
        assert one(chk(t.url("/"), expect=Expect(body_contains="all good"))).ok


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_body_is_checked_on_its_first_mebibyte(chunked):
    body = b"HEAD-OK" + b"x" * (2 * MAX_BODY_BYTES) + b"TAIL"
    with Target(default=http(200, body, chunked=chunked)) as t:
        head, tail = run_checks(
            [
                chk(t.url("/"), name="head", expect=Expect(body_contains="HEAD-OK")),
                chk(t.url("/"), name="tail", expect=Expect(body_contains="TAIL"), retries=0),
            ]
        )
    assert head.ok and head.body_truncated
    assert tail.reason == "body_mismatch"
    assert f"body over {MAX_BODY_BYTES} bytes" in tail.error


def test_interim_100_continue_is_skipped():
    data = b"HTTP/1.1 100 Continue\r\n\r\n" + http(200, "done")
    with Target(default=data) as t:
        result = one(chk(t.url("/"), expect=Expect(body_contains="done")))
    assert (result.ok, result.status_code) == (True, 200)


def test_head_requests_read_no_body():
    # The server announces a length it never sends: correct for HEAD.
    with Target(default=b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n") as t:
        assert one(chk(t.url("/"), method="HEAD")).ok


# ------------------------------------------------------------------------------------ retries
def test_a_failure_on_the_first_attempt_only_is_ok_on_the_retry():
    with Target(default=fails_first(1, http(200, "ok"))) as t:
        result = one(chk(t.url("/")))
        assert t.connections == 2
    assert (result.ok, result.attempts) == (True, 2)


def test_a_persistent_failure_counts_after_the_retry():
    with Target(default=fails_first(5, http(200, "ok"))) as t:
        result = one(chk(t.url("/")))
    assert (result.reason, result.attempts, result.status_code) == ("status_mismatch", 2, 500)


def test_retries_zero_means_a_single_attempt():
    with Target(default=fails_first(1, http(200, "ok"))) as t:
        result = one(chk(t.url("/"), retries=0))
        assert t.connections == 1
    assert (result.reason, result.attempts) == ("status_mismatch", 1)


# ------------------------------------------------------------------------------------ redirects
def test_redirects_are_followed_to_the_final_answer():
    with Target(routes={"/a": redirect("/b", 301), "/b": redirect("c", 307), "/c": http(200, "landed")}) as t:
        result = one(chk(t.url("/a"), expect=Expect(body_contains="landed")))
        assert [r.path for r in t.requests] == ["/a", "/b", "/c"]
    assert (result.ok, result.status_code, result.final_url) == (True, 200, t.url("/c"))


def test_a_redirect_loop_is_too_many_redirects():
    with Target(routes={"/a": redirect("/b"), "/b": redirect("/a")}) as t:
        result = one(chk(t.url("/a"), max_redirects=3, retries=0))
        assert len(t.requests) == 4  # the first request and three redirects
    assert (result.reason, result.phase) == ("too_many_redirects", "redirect")
    assert "more than 3 redirects" in result.error


def test_without_following_the_redirect_is_the_response():
    with Target(routes={"/a": redirect("/b")}) as t:
        ok, strict = run_checks(
            [
                chk(t.url("/a"), name="a", follow_redirects=False),
                chk(
                    t.url("/a"),
                    name="b",
                    follow_redirects=False,
                    expect=Expect(status=(StatusRange(200, 299),)),
                ),
            ]
        )
        assert t.hits["/b"] == 0
    assert (ok.ok, ok.status_code) == (True, 302)
    assert (strict.reason, strict.status_code) == ("status_mismatch", 302)


def test_a_303_after_post_is_followed_with_get():
    with Target(routes={"/form": redirect("/done", 303), "/done": http(200, "thanks")}) as t:
        assert one(chk(t.url("/form"), method="POST", body="a=1")).ok
        assert [(r.method, r.body) for r in t.requests] == [("POST", b"a=1"), ("GET", b"")]


def test_a_redirect_to_another_origin_drops_secret_and_credential_headers():
    secrets = StaticSecrets({"env:TOKEN": "s3cret"})
    with Target(default=http(200, "other")) as other:
        with Target(routes={"/": redirect(other.url("/landing"))}) as first:
            check = chk(
                first.url("/"),
                headers={"X-Token": "env:TOKEN", "Cookie": "a=b", "X-Plain": "1", "Host": "api.internal"},
            )
            assert one(check, secrets=secrets).ok
            assert first.requests[0].headers["x-token"] == "s3cret"
        landed = other.requests[0].headers
    assert "x-token" not in landed and "cookie" not in landed
    assert landed["x-plain"] == "1"
    assert landed["host"] == f"127.0.0.1:{other.port}"  # the Host override named the first origin


# ------------------------------------------------------------------------------------ blocked targets
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/",
        "http://0.0.0.0:8080/",
        "http://224.0.0.1/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
def test_metadata_link_local_zero_and_multicast_addresses_are_blocked(url, monkeypatch):
    opened = []
    monkeypatch.setattr("uptime_relay.probe.engine.asyncio.open_connection", _recording(opened))
    result = one(chk(url))
    assert (result.reason, result.phase, result.attempts) == ("blocked_target", "dns", 1)
    assert opened == []


def test_a_name_resolving_to_the_metadata_address_is_blocked_before_connecting(monkeypatch):
    opened = []
    monkeypatch.setattr("uptime_relay.probe.engine.asyncio.open_connection", _recording(opened))

    async def rebinding(host, port):
        return [(socket.AF_INET, "10.0.0.5"), (socket.AF_INET, "169.254.169.254")]

    result = one(chk("http://metadata.example.test/"), resolver=rebinding)
    assert result.reason == "blocked_target"
    assert "metadata.example.test (169.254.169.254)" in result.error
    assert opened == []


def test_a_redirect_to_the_metadata_address_is_blocked_before_connecting(monkeypatch):
    with Target(routes={"/": redirect("http://169.254.169.254/latest/meta-data/iam")}) as t:
        opened = []
        monkeypatch.setattr("uptime_relay.probe.engine.asyncio.open_connection", _recording(opened))
        result = one(chk(t.url("/")))
    assert (result.reason, result.phase) == ("blocked_target", "dns")
    assert "redirect" in result.error
    assert [host for host, _port in opened] == ["127.0.0.1"]


def test_loopback_and_private_addresses_are_allowed():
    for address in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "::1", "fd12:3456::1"):
        assert blocked_reason(ipaddress.ip_address(address), 443) is None, address


@given(st.integers(min_value=0, max_value=2**16 - 1))
def test_every_address_in_169_254_is_blocked(low):
    assert blocked_reason(ipaddress.IPv4Address(f"169.254.{low >> 8}.{low & 255}"), 80) is not None


def _recording(opened):
    real = asyncio.open_connection

    async def open_connection(host, port, **kwargs):
        opened.append((host, port))
        return await real(host, port, **kwargs)

    return open_connection


# ------------------------------------------------------------------------------------ many checks
def test_many_checks_run_concurrently_and_come_back_in_order():
    with Target(default=slow(http(200, "ok"), 0.05)) as t:
        checks = [chk(t.url(f"/{i}"), name=f"c{i}") for i in range(40)]
        results = run_checks(checks, concurrency=10)
    assert [r.check for r in results] == [c.name for c in checks]
    assert all(r.ok for r in results)
    assert all(r.reason in REASONS for r in results)


def test_the_run_deadline_bounds_hanging_checks_and_reports_them_not_probed_never_down():
    """GIVEN two checks hanging with a 30 s timeout, one probe at a time and a 0.3 s run deadline
    WHEN the run ends
    THEN the one cut off by the deadline and the one never started are not_probed with ok None
    (the deadline, not the target, ended them), and only a check's own timeout says timeout."""
    with Target(hang=True) as t:
        checks = [chk(t.url("/"), name=f"h{i}", timeout_s=30) for i in range(2)]
        first, second = run_checks(checks, concurrency=1, deadline_s=0.3)
        (own,) = run_checks([chk(t.url("/"), name="own", timeout_s=0.2, retries=0)], deadline_s=5)
    assert (first.reason, first.ok, first.attempts) == ("not_probed", None, 1)
    assert (second.reason, second.ok, second.attempts) == ("not_probed", None, 0)
    assert "deadline" in second.error
    assert second.to_json()["ok"] is None
    assert (own.reason, own.ok, own.phase) == ("timeout", False, "ttfb")


def test_run_checks_also_works_when_called_from_inside_an_event_loop(target):
    async def async_caller():
        return run_checks([chk(target.url("/"))])

    (result,) = asyncio.run(async_caller())
    assert result.ok


def test_probe_is_awaitable_directly(target):
    result = asyncio.run(probe(chk(target.url("/"))))
    assert result.ok


def test_a_request_handler_sees_what_the_probe_sends_about_itself(target):
    one(chk(target.url("/")))
    request: Request = target.requests[-1]
    assert request.headers["user-agent"].startswith("uptime-relay/")


# ------------------------------------------------------------------------------------ the HTTP reader
def _read(wire: bytes, method: str = "GET", bound: int = MAX_BODY_BYTES):
    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(wire)
        reader.feed_eof()
        return await read_response(reader, method, bound=bound)

    return asyncio.run(go())


@given(
    body=st.binary(max_size=3000),
    cuts=st.lists(st.integers(min_value=1, max_value=700), max_size=8),
    bound=st.integers(min_value=1, max_value=4000),
)
def test_any_chunking_of_a_body_reads_back_the_same_bytes_up_to_the_bound(body, cuts, bound):
    pieces, rest = [], body
    for cut in cuts:
        if rest:
            pieces.append(rest[:cut])
            rest = rest[cut:]
    if rest:
        pieces.append(rest)
    framed = b"".join(f"{len(p):X}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n" + framed
    response = _read(wire, bound=bound)
    assert response.body == body[:bound]
    assert response.truncated == (len(body) > bound)
    assert response.header("x-a") == "1, 2"


@given(body=st.binary(max_size=3000), bound=st.integers(min_value=1, max_value=4000), framed=st.booleans())
def test_length_and_close_delimited_bodies_read_back_up_to_the_bound(body, bound, framed):
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n" if framed else "HTTP/1.0 200 OK\r\n\r\n"
    response = _read(head.encode() + body, bound=bound)
    assert (response.body, response.truncated) == (body[:bound], len(body) > bound)


def test_a_too_slow_answer_stays_too_slow_when_the_retry_runs_out_of_the_timeout():
    # Default retries: the first answer (0.5 s, over max_latency) leaves the retry 0.3 s of the
    # 0.8 s timeout, less than the server needs; the finding is the slow answer, not a timeout.
    with Target(default=slow(http(200, "ok"), 0.5)) as t:
        result = one(chk(t.url("/"), timeout_s=0.8, expect=Expect(max_latency_ms=100)))
        assert t.connections == 2
    assert (result.ok, result.reason, result.phase, result.status_code, result.attempts) == (
        False,
        "too_slow",
        "expect",
        200,
        2,
    )
    timings = result.to_json()["timings_ms"]
    assert timings["ttfb"] is not None and timings["transfer"] is not None
    assert "retry" in result.error


def test_a_retry_cut_off_by_the_timeout_reports_the_first_attempts_failure():
    seen = []

    def error_then_hang(_request):
        seen.append(1)
        return http(500, "boom") if len(seen) == 1 else Reply(http(200, "ok"), delay=5)

    with Target(default=error_then_hang) as t:
        result = one(chk(t.url("/"), timeout_s=0.5))
    assert (result.reason, result.status_code, result.attempts) == ("status_mismatch", 500, 2)
