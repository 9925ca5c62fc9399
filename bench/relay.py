"""Relay figures: cold import time of the Lambda handler module, and DynamoDB requests per alert.

    .venv/bin/python bench/relay.py [--runs 9]

1. Import time: a fresh interpreter imports ``functions/relay/app.py`` (SENTRY_DSN unset, the
   Lambda runtime's environment variables set) and, in the same run, a fresh interpreter imports
   ``boto3`` alone; median of ``--runs`` each, measured inside the interpreter (start-up
   excluded). Target: app <= 1.5x boto3. Also shown: the app outside Lambda, where the X-Ray SDK
   creates a botocore client for centralised sampling rules at import (it does not in Lambda).
2. DynamoDB requests per alert: the relay against a moto server, counted with a botocore
   ``before-call`` hook, for ALARM (opens), the same ALARM again (duplicate) and OK (resolves);
   once through ``Relay.handle`` (incident state only) and once through the Lambda path
   (``process_sns_event`` with the Powertools Idempotency guard on the SNS MessageId).
3. DynamoDB requests per alarm with history: the relay the Lambda function builds (silences,
   alarm tags, MessageId guard) against tables holding 10 and 10,000 resolved incidents
   (``uptime_relay_tools.testing.table_load``): the requests, and the items they read, must be
   the same for both (keyed reads only; tests/integration/test_reads_per_alarm.py holds it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IMPORT_APP = (
    "import sys, time; sys.path.insert(0, {path!r}); t = time.perf_counter(); import app; "
    "d = time.perf_counter() - t; print(d, int('sentry_sdk' in sys.modules), int('requests' in sys.modules))"
)
IMPORT_BOTO3 = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t, 0, 0)"


LAMBDA_ENV = {  # what the Lambda runtime sets; the X-Ray SDK then skips its sampling-rules client
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "uptime-relay-relay",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
}


def _run(code: str, extra_env: dict[str, str] | None = None) -> tuple[float, bool, bool]:
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN" and k not in LAMBDA_ENV}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.update(extra_env or {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    seconds, sentry, requests = out.stdout.split()
    return float(seconds), sentry == "1", requests == "1"


def import_times(runs: int) -> dict[str, float | bool]:
    app_times, local_times, boto_times = [], [], []
    sentry = requests = False
    code = IMPORT_APP.format(path=str(ROOT / "functions" / "relay"))
    for _ in range(runs):  # interleaved so machine load affects all alike
        seconds, s, r = _run(code, LAMBDA_ENV)
        app_times.append(seconds)
        sentry |= s
        requests |= r
        local_times.append(_run(code)[0])
        boto_times.append(_run(IMPORT_BOTO3)[0])
    app_ms, boto_ms = statistics.median(app_times) * 1000, statistics.median(boto_times) * 1000
    return {
        "app_ms": app_ms,
        "app_outside_lambda_ms": statistics.median(local_times) * 1000,
        "boto3_ms": boto_ms,
        "ratio": app_ms / boto_ms,
        "sentry_imported": sentry,
        "requests_imported": requests,
    }


def dynamodb_requests() -> dict[str, dict[str, Counter]]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer
    from uptime_relay.adapters.incidents import DynamoIncidentStore, create_table
    from uptime_relay.adapters.queue import InMemoryDeadLetters
    from uptime_relay.adapters.secrets import StaticSecrets
    from uptime_relay.config.loader import parse_config
    from uptime_relay.delivery import Dispatcher
    from uptime_relay.relay import Relay, make_idempotent
    from uptime_relay_tools.testing.fake_notifiers import fake_notifiers
    from uptime_relay_tools.testing.relay_kit import alarm_message, sns_event

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://{host}:{port}")
        calls: Counter = Counter()
        client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.update([model.name]))
        config = parse_config(
            """
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
  pd: {type: pagerduty, routing_key: literal-key}
routes:
  - notify: [pd, slack]
"""
        )
        t0 = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
        figures: dict[str, dict[str, Counter]] = {}
        for path in ("handle", "lambda"):
            table = f"bench-{uuid.uuid4().hex[:8]}"
            create_table(client, table)
            store = DynamoIncidentStore(table, client=client)
            dispatcher = Dispatcher(config, fake_notifiers(), StaticSecrets(), InMemoryDeadLetters())
            wrap = make_idempotent(table, client=client)[0] if path == "lambda" else None
            relay = Relay(config, store, dispatcher, idempotent=wrap)
            steps = {
                "ALARM (opens, pages 2 channels)": (alarm_message("bench", "ALARM", t0), "m-1"),
                "duplicate ALARM (same MessageId)": (alarm_message("bench", "ALARM", t0), "m-1"),
                "duplicate ALARM (other MessageId)": (alarm_message("bench", "ALARM", t0), "m-2"),
                "OK (resolves, 2 channels)": (alarm_message("bench", "OK", t0 + timedelta(minutes=9)), "m-3"),
            }
            figures[path] = {}
            for label, (message, message_id) in steps.items():
                calls.clear()
                if path == "handle":
                    alerts = [relay.enrich(a) for a in relay.parse(sns_event(message, message_id=message_id))]
                    relay.handle(alerts, t0 + timedelta(minutes=10))
                else:
                    relay.process_sns_event(sns_event(message, message_id=message_id))
                figures[path][label] = Counter(calls)
        return figures
    finally:
        server.stop()


def history_requests(histories: tuple[int, ...] = (10, 10_000)) -> dict[int, dict[str, Counter]]:
    """Requests per alarm (ALARM, then OK) with ``histories`` resolved incidents in the table."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer
    from uptime_relay.adapters.incidents import create_table
    from uptime_relay_tools.testing.table_load import fill_resolved, requests_per_alarm

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("uptime_relay.wiring").setLevel(logging.ERROR)  # no DLQ here: said once, not per table
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint  # the relay's alarm-tag reader asks CloudWatch here
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        at = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
        figures = {}
        for history in histories:
            table = f"bench-{history}-{uuid.uuid4().hex[:8]}"
            create_table(client, table)
            fill_resolved(client, table, history, at=at)
            figures[history] = requests_per_alarm(client, table, at=at)
        return figures
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)

    t = import_times(args.runs)
    print(f"cold import, median of {args.runs} (interpreter start-up excluded):")
    print(f"  functions/relay/app.py  {t['app_ms']:7.1f} ms  (Lambda environment variables set)")
    print(f"  boto3 alone             {t['boto3_ms']:7.1f} ms")
    verdict = "ok" if t["ratio"] <= 1.5 else "OVER TARGET"
    print(f"  ratio                   {t['ratio']:7.2f}x  (target <= 1.5x: {verdict})")
    print(
        f"  app.py outside Lambda   {t['app_outside_lambda_ms']:7.1f} ms  "
        "(X-Ray SDK builds a sampling-rules client there; not in Lambda)"
    )
    print(f"  sentry_sdk imported without SENTRY_DSN: {t['sentry_imported']}")
    print(f"  requests imported at module load: {t['requests_imported']}")

    figures = dynamodb_requests()
    titles = {"handle": "Relay.handle (incident state)", "lambda": "process_sns_event (+ MessageId guard)"}
    for path, steps in figures.items():
        print(f"DynamoDB requests per alert, {titles[path]}:")
        for label, counter in steps.items():
            detail = ", ".join(f"{name} {n}" for name, n in sorted(counter.items()))
            print(f"  {label:36s} {sum(counter.values()):2d}  ({detail})")

    from uptime_relay_tools.testing.table_load import ITEMS_READ, reads, requests

    print("DynamoDB requests per alarm with resolved incidents in the table (Lambda path):")
    for history, steps in history_requests().items():
        for label, counter in steps.items():
            detail = ", ".join(f"{name} {n}" for name, n in sorted(counter.items()) if name != ITEMS_READ)
            print(
                f"  {history:>6,} resolved, {label:5s} {requests(counter):2d} requests, "
                f"{reads(counter)} reads, {counter[ITEMS_READ]} items read  ({detail})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
