"""What a page says about a check probed from several regions. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def region_sentence(verdicts: Mapping[str, bool | None], regions: Sequence[str], quorum: int) -> str:
    """``Failing in eu-west-1, us-east-1 (2 of 3 regions, quorum 2); passing in ap-southeast-2.``
    ``verdicts``: region -> True (passed), False (failed), None / absent (no report)."""
    failed = [r for r in regions if verdicts.get(r) is False]
    passed = [r for r in regions if verdicts.get(r) is True]
    silent = [r for r in regions if verdicts.get(r) is None]
    parts = [
        f"Failing in {', '.join(failed) or 'no region'} "
        f"({len(failed)} of {len(regions)} regions, quorum {quorum})"
    ]
    if passed:
        parts.append(f"passing in {', '.join(passed)}")
    if silent:
        parts.append(f"no report from {', '.join(silent)}")
    return "; ".join(parts) + "."
