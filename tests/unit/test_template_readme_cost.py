"""The deploy guide's cost table is what `uptime-relay cost` prints today (docs/operations.md,
"What it costs")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def printed() -> str:
    """`uptime-relay cost config/uptime.yaml --checks 1000` (the comparison rows ignore --checks)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "uptime_relay",
            "cost",
            str(ROOT / "config" / "uptime.yaml"),
            "--checks",
            "1000",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


def table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| checks | uptime-relay |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def test_the_readme_cost_table_matches_the_cost_command_for_10_100_and_1000_checks(printed):
    rows = table(printed)
    assert [row.split("|")[1].strip() for row in rows[2:]] == ["10", "100", "1,000"]
    assert table(DOC.read_text()) == rows


def test_the_readme_quotes_the_measured_log_bytes_and_the_1000_check_breakdown(printed):
    doc = DOC.read_text()
    header = printed.split("Same checks elsewhere")[0]
    per_check = re.search(r"(\d+) log bytes per check per run", header).group(1)
    assert f"{per_check} bytes per check per run" in doc
    usd = {
        item: round(float(amount.replace(",", "")))
        for item, amount in re.findall(r"^\| ([^|]+?) \| [^|]+ \| [^|]+ \| \$([\d,.]+) \|$", header, re.M)
    }
    assert f"${usd['CloudWatch custom metrics']} is the per-check custom metric" in doc
    assert f"${usd['CloudWatch alarms (checks + self-monitoring)']} the alarms" in doc
    assert f"${usd['CloudWatch Logs ingestion (EMF + results)']} log\ningestion" in doc
