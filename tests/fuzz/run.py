"""``make fuzz``: the fuzz tests (tests/fuzz) in rounds of many examples, each round with a fresh
seed, until the time budget is spent; then one line per target with its example counts.

    python tests/fuzz/run.py [--seconds 600] [--examples-per-round 1000]

Exit 0 when every round passed; 1 at the first failing round (its output, with hypothesis'
``@reproduce_failure`` line, is printed in full).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEST = re.compile(r"^(tests/fuzz/\S+::\S+):\s*$")
# "- 50 passing, 0 failing, and 0 invalid test cases" (older hypothesis: "50 passing examples, ...")
COUNTS = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?, (?:and )?(\d+) invalid")


def one_round(examples: int, seed: int) -> tuple[int, str]:
    env = {**os.environ, "FUZZ_EXAMPLES": str(examples)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
            f"--hypothesis-seed={seed}",
            str(HERE.relative_to(ROOT)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout + done.stderr


def tally(output: str, totals: dict[str, list[int]]) -> None:
    current = None
    for line in output.splitlines():
        if (m := TEST.match(line.strip())) is not None:
            current = m.group(1)
        elif current and (m := COUNTS.search(line)) is not None:
            for i, n in enumerate(m.groups()):
                totals[current][i] += int(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 600)))
    parser.add_argument("--examples-per-round", type=int, default=1000)
    args = parser.parse_args(argv)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    started = time.monotonic()
    rounds = 0
    while rounds == 0 or time.monotonic() - started < args.seconds:
        seed = random.SystemRandom().randrange(2**32)
        code, output = one_round(args.examples_per_round, seed)
        rounds += 1
        tally(output, totals)
        elapsed = time.monotonic() - started
        print(
            f"round {rounds} (seed {seed}): {'ok' if code == 0 else 'FAILED'} at {elapsed:.0f} s", flush=True
        )
        if code != 0:
            print(output)
            return 1
    print(f"\n{rounds} rounds in {time.monotonic() - started:.0f} s")
    print(f"{'target':<90} {'passing':>9} {'failing':>8} {'invalid':>8}")
    for target in sorted(totals):
        passing, failing, invalid = totals[target]
        print(f"{target:<90} {passing:>9} {failing:>8} {invalid:>8}")
    grand = [sum(t[i] for t in totals.values()) for i in range(3)]
    print(f"{'total':<90} {grand[0]:>9} {grand[1]:>8} {grand[2]:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
