"""`uptime-relay local --demo` (what `make demo` runs) plays the whole story and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_detects_pages_escalates_acknowledges_and_resolves_then_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "uptime_relay", "local", "--demo", "--minute-seconds", "0.3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "00:04 ALARM shop (2 out of the last 3 datapoints)" in out
    assert "00:04 slack-critical trigger (printed here, not sent)" in out
    assert "Acknowledge: http://127.0.0.1:" in out  # the email, rendered, with its signed link
    assert "00:06 pd-primary escalation (printed here, not sent)" in out
    assert "acknowledged: by " in out
    assert "00:10 OK shop (was ALARM)" in out
    summary = out[out.index("demo summary") :]
    assert "PROBLEM" not in summary
    assert "resolved      00:10" in summary
