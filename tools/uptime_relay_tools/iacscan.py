"""``make scan``: checkov on the built template, failing on anything that is not a pass or an explained skip.

checkov alone exits 0 when it cannot read the template (a parsing error, or a missing file: no
resources, no checks) and accepts a skip without a comment. This runs it with JSON output and
fails (exit 1) on a failed check, a parsing error, a template with no resources, or a skip
without its reason; it prints the counts, every skip with its reason, and every failure.
The skips and their reasons live in the resources' ``Metadata: checkov: skip:`` in template.yaml.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# checkov's suppress_comment when a skip gives none
NO_COMMENT = "No comment provided"


@dataclass
class Verdict:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    resources: int = 0
    version: str = "?"
    skips: list[tuple[str, str, str]] = field(default_factory=list)  # (check id, resource, reason)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (check id, resource, name)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(report: Any) -> Verdict:
    """Read checkov's ``-o json`` report (one framework: an object; several: a list of them)."""
    reports = report if isinstance(report, list) else [report]
    v = Verdict()
    for rep in reports:
        if not isinstance(rep, Mapping):
            continue
        summary = rep.get("summary") or {}
        results = rep.get("results") or {}
        v.passed += int(summary.get("passed") or 0)
        v.failed += int(summary.get("failed") or 0)
        v.skipped += int(summary.get("skipped") or 0)
        v.parsing_errors += int(summary.get("parsing_errors") or 0)
        v.resources += int(summary.get("resource_count") or 0)
        v.version = str(summary.get("checkov_version") or v.version)
        for check in results.get("skipped_checks") or []:
            reason = str((check.get("check_result") or {}).get("suppress_comment") or "").strip()
            v.skips.append((check["check_id"], check["resource"], reason))
        for check in results.get("failed_checks") or []:
            v.failures.append((check["check_id"], check["resource"], str(check.get("check_name") or "")))
    if not reports or all(not isinstance(r, Mapping) for r in reports):
        v.problems.append("checkov printed no report")
    if v.failed:
        v.problems.append(
            f"{v.failed} failed check(s): fix them, or skip them in the resource's Metadata with a reason"
        )
    if v.parsing_errors:
        v.problems.append(f"{v.parsing_errors} file(s) checkov could not parse")
    if not v.resources and not v.parsing_errors:
        v.problems.append("no resources scanned (is the template there?)")
    v.problems += [
        f"{cid} skipped on {res} without a reason (add comment: to the skip)"
        for cid, res, reason in v.skips
        if not reason or reason == NO_COMMENT
    ]
    return v


def render(v: Verdict, template: str) -> str:
    lines = [
        f"checkov {v.version} on {template}: {v.passed} passed, {v.failed} failed, {v.skipped} skipped "
        f"({v.resources} resources)"
    ]
    if v.skips:
        lines.append("skipped, with the reasons from template.yaml:")
        lines += [f"  {cid} {res}: {reason or '(no reason)'}" for cid, res, reason in sorted(v.skips)]
    lines += [f"FAILED {cid} {res}: {name}" for cid, res, name in v.failures]
    lines += [f"scan: {p}" for p in v.problems]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m uptime_relay_tools.iacscan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("template", help="the built template (.aws-sam/build/template.yaml)")
    parser.add_argument(
        "--checkov", default="checkov", help="the checkov executable (.venv-checkov/bin/checkov)"
    )
    args = parser.parse_args(argv)
    cmd = [
        args.checkov,
        "--file",
        args.template,
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--skip-download",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        print(f"scan: checkov printed no JSON report (exit {proc.returncode})", file=sys.stderr)
        return 1
    verdict = judge(report)
    print(render(verdict, args.template))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
