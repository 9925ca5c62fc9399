"""The probe records a check's latest failure cheaply: once per change, never per failed minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from probe_servers import Target, http
from uptime_relay.adapters.evidence import InMemoryEvidenceStore
from uptime_relay.config import Check, Expect
from uptime_relay.probe import run_checks
from uptime_relay.probe.evidence import EXCERPT_CHARS, EvidenceRecorder, body_excerpt
from uptime_relay.probe.result import ProbeResult

T0 = datetime(2026, 12, 3, 13, 34, tzinfo=UTC)


def failed(reason="status_mismatch", status=503, check="shop") -> ProbeResult:
    return ProbeResult(
        check=check, ok=False, reason=reason, status_code=status, phase="expect", target="https://shop/"
    )


def ok(check="shop") -> ProbeResult:
    return ProbeResult(check=check, ok=True, reason="ok", status_code=200)


def test_a_check_failing_the_same_way_is_written_once_not_every_minute():
    """GIVEN the shop answering 503 for ten minutes, THEN one write; a new failure writes again,
    and after a recovery the next failure is written with its own since."""
    store = InMemoryEvidenceStore()
    recorder = EvidenceRecorder(store)
    for minute in range(10):
        recorder.record([failed(), ok("api")], T0 + timedelta(minutes=minute))
    assert store.writes == 1 and store.get("shop").since == T0

    recorder.record([failed("connect_refused", None)], T0 + timedelta(minutes=10))
    assert store.writes == 2
    recorder.record([ok()], T0 + timedelta(minutes=11))
    recorder.record([failed()], T0 + timedelta(minutes=12))
    assert store.writes == 3 and store.get("shop").since == T0 + timedelta(minutes=12)


def test_a_check_not_probed_in_a_run_records_nothing():
    store = InMemoryEvidenceStore()
    not_probed = ProbeResult(check="shop", ok=None, reason="not_probed", attempts=0, phase="setup")
    EvidenceRecorder(store).record([not_probed], T0)
    assert store.get("shop") is None


class BrokenStore:
    def put(self, evidence):
        raise ConnectionError("table unreachable")


def test_a_store_that_cannot_be_written_never_fails_the_probe_run_and_is_retried_next_minute():
    recorder = EvidenceRecorder(BrokenStore())
    assert recorder.record([failed()], T0) == 0
    assert "shop" not in recorder.seen  # tried again on the next failed minute


def test_the_body_excerpt_is_short_one_line_safe_and_without_the_checks_secrets():
    body = 'error\n\t"token": "s3cr3t-value-123"\u202e <script>' + "x" * 1000
    excerpt = body_excerpt(body, ["s3cr3t-value-123"])
    assert "s3cr3t-value-123" not in excerpt and "[redacted]" in excerpt
    assert "\n" not in excerpt and "\u202e" not in excerpt
    assert len(excerpt) <= EXCERPT_CHARS


def test_a_probe_that_checked_the_body_keeps_a_short_excerpt_of_it_and_one_that_did_not_keeps_none():
    """GIVEN a target answering 503 with a JSON body, WHEN a check expecting a body field fails,
    THEN its result carries the start of the body; a check of the status only carries none."""
    with Target(default=http(503, '{"status":\n "down", "db": "timeout"}')) as t:
        body_checked, status_only = run_checks(
            [
                Check(name="a", url=t.url("/"), retries=0, expect=Expect(body_contains='"ok"')),
                Check(name="b", url=t.url("/"), retries=0),
            ]
        )
    assert body_checked.body_excerpt == '{"status": "down", "db": "timeout"}'
    assert status_only.body_excerpt is None and status_only.status_code == 503
