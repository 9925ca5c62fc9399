"""Scale benchmark: 10,000 checks, 10% hanging until their 10 s timeout, all probed in one minute.

    .venv/bin/python bench/shards.py [--checks 10000] [--hanging-pct 10] [--concurrency 500]

Runs the real scheduled run (``uptime_relay.probe.run.ProbeRun.scheduled``: the planner sizes
shards for the worst case) and then every shard it started, in parallel threads of this process
(in Lambda each is its own invocation; here they share one interpreter, so each shard's wall time
is an upper bound of what Lambda would show). The loopback target runs in a child process
(``uptime_relay_tools.testing.fleet``): healthy paths answer at once, ``/hang/`` never answers.

Prints, in one run: checks probed (ok / failed in their own timeout / not probed), each shard's
checks and wall time, this process's CPU per probe, and blackbox_exporter's CPU per probe on the
same target (``prometheus-blackbox-exporter`` from Debian; ``.ci/run`` installs it) for the same
number of healthy probes at the same concurrency. Targets: every check probed (none
``not_probed``), every shard within the 50 s budget, CPU per probe below blackbox_exporter's.
Everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe import REFERENCE_BLACKBOX_CPU_MS, bench_blackbox, blackbox_binary

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "UptimeRelayBench")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "uptime-relay")


def start_target() -> tuple[multiprocessing.Process, int]:
    from uptime_relay_tools.testing.fleet import serve_in_process

    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=serve_in_process, args=(child,), daemon=True)
    proc.start()
    return proc, parent.recv()


class _MinuteStartsNow:
    """The process clock, shifted so the scheduled minute starts as the run does (the schedule
    fires at :00; the real clock may be anywhere in its minute)."""

    def __init__(self) -> None:
        real = datetime.now(UTC)
        self.minute = real.replace(second=0, microsecond=0) + timedelta(minutes=1)
        self._offset = self.minute - real

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class _Quiet(io.TextIOBase):
    """Swallows the EMF documents and log lines (10,000 per minute): not what is measured here."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def run_minute(port: int, checks: int, hanging: int, concurrency: int, timeout_s: float) -> dict:
    from aws_lambda_powertools import Logger, Metrics
    from uptime_relay.config import Check, Config
    from uptime_relay.config.model import ProbeSettings
    from uptime_relay.probe.run import ProbeRun, ShardJob

    fleet = [
        Check(
            name=f"{'hang' if i < hanging else 'ok'}-{i:05d}",
            url=f"http://127.0.0.1:{port}/{'hang' if i < hanging else 'ok'}/{i}",
            timeout_s=timeout_s,
            retries=0,
        )
        for i in range(checks)
    ]
    config = Config(checks=tuple(fleet), probe=ProbeSettings(concurrency=concurrency))
    started: list[dict] = []
    run = ProbeRun(config, None, region="us-east-1", invoke=lambda name, event: started.append(event))
    from uptime_relay import clock

    logger = Logger(service="bench-shards", stream=_Quiet())
    shifted = _MinuteStartsNow()
    previous_clock = clock.install(shifted)
    minute = shifted.minute
    event = {"time": minute.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1"}
    shard_walls: dict[int, tuple[int, float, dict]] = {}
    lock = threading.Lock()

    def shard(event: dict) -> None:
        job = ShardJob.from_event(event)
        assert job is not None
        began = time.perf_counter()
        summary = run.run_shard(job, metrics=Metrics(namespace="UptimeRelayBench"), logger=logger)
        with lock:
            shard_walls[job.index] = (len(run.due(job)), time.perf_counter() - began, summary)

    real_stdout = sys.stdout
    sys.stdout = _Quiet()
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        plan_began = time.perf_counter()
        run.scheduled(
            event, function_name="bench-probe", metrics=Metrics(namespace="UptimeRelayBench"), logger=logger
        )
        plan_s = time.perf_counter() - plan_began
        with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            list(pool.map(shard, started))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    finally:
        sys.stdout = real_stdout
        clock.install(previous_clock)
    summaries = [s for _, _, s in shard_walls.values()]
    return {
        "shards": shard_walls,
        "plan_s": plan_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "probed": sum(s["checks"] - s.get("not_probed", 0) for s in summaries),
        "failed": sum(s["failed"] for s in summaries),
        "not_probed": sum(s.get("not_probed", 0) for s in summaries),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--hanging-pct", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=500, help="probe.concurrency (per shard)")
    parser.add_argument("--timeout", type=float, default=10.0, help="every check's timeout, seconds")
    parser.add_argument("--blackbox-probes", type=int, default=2000)
    parser.add_argument("--no-blackbox", action="store_true")
    args = parser.parse_args(argv)
    hanging = int(args.checks * args.hanging_pct / 100)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"{args.checks} checks, {hanging} hanging until their {args.timeout:g} s timeout, "
        f"probe.concurrency {args.concurrency}; target: 127.0.0.1 (child process)"
    )
    proc, port = start_target()
    try:
        result = run_minute(port, args.checks, hanging, args.concurrency, args.timeout)
        healthy_probes = args.checks - hanging
        print(f"\nplanned {len(result['shards'])} shards in {result['plan_s'] * 1000:.0f} ms; each shard:")
        for index in sorted(result["shards"]):
            due, wall, summary = result["shards"][index]
            print(
                f"  shard {index}: {due} checks, wall {wall:.2f} s, failed {summary['failed']}, "
                f"not probed {summary.get('not_probed', 0)}"
            )
        cpu_ms = result["cpu_s"] * 1000.0 / max(1, result["probed"])
        print(
            f"\nchecks probed: {result['probed']}/{args.checks} ({result['failed']} failed in their own timeout, "
            f"{result['not_probed']} not probed); all shards done in {result['wall_s']:.2f} s"
        )
        print(
            f"uptime-relay CPU: {result['cpu_s']:.2f} s = {cpu_ms:.3f} ms per probe (planning and shards included)"
        )
        binary = None if args.no_blackbox else blackbox_binary()
        if binary:
            bb = bench_blackbox(binary, port, args.blackbox_probes, min(args.concurrency, 500))
            reference = bb["cpu_ms_per_probe"]
            print(
                f"blackbox_exporter: {bb['ok']}/{args.blackbox_probes} ok on the same target, "
                f"CPU {reference:.3f} ms per probe (its own process, incl. serving /probe)"
            )
        else:
            reference = REFERENCE_BLACKBOX_CPU_MS
            print(f"blackbox_exporter not run; reference figure {reference} ms CPU per probe")
        worst = max(wall for _, wall, _ in result["shards"].values())
        verdicts = {
            f"all {args.checks} probed": result["probed"] == args.checks and result["not_probed"] == 0,
            f"hanging ones failed, healthy ones passed ({hanging} failed)": result["failed"] == hanging,
            "every shard within the 50 s budget": worst <= 50.0,
            "CPU per probe below blackbox_exporter's": cpu_ms < reference,
        }
        print(f"\nload average {os.getloadavg()[0]:.2f} at end; {healthy_probes} healthy probes")
        for name, passed in verdicts.items():
            print(f"  [{'PASS' if passed else 'FAIL'}] {name}")
        return 0 if all(v for k, v in verdicts.items() if "probed" in k) else 1
    finally:
        proc.terminate()
        proc.join(timeout=5)


if __name__ == "__main__":
    raise SystemExit(main())
