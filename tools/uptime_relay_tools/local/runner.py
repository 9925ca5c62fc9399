"""``uptime-relay local``: the whole stack on this machine, in simulated time.

1. A moto server on 127.0.0.1 holds the AWS resources, created from ``template.yaml`` (SAM
   transform offline, ``uptime_relay_tools.local.cloudformation``). The functions' environment is the one
   the template gives them, every reference resolved against the local stack.
2. The per-check alarms are reconciled into moto CloudWatch exactly as the ``Custom::CheckAlarms``
   resource does (``uptime_relay.alarms``).
3. Each simulated minute (at :00) the probe handler (``functions/probe/app.py``) runs, once per
   region the checks are probed from (the home region, then each extra region as its probe-only
   stack would, reporting with PutMetricData); the shards it starts as asynchronous invocations
   of itself run here in threads, in parallel (those of a minute run are awaited within the
   tick; fast shards, which probe in rounds through the minute, run on in the background while
   alarms with 10 s and 30 s periods are evaluated every 10 simulated seconds); their EMF
   output becomes metric datapoints (kept for alarm evaluation and put into moto CloudWatch); every
   single-metric alarm in moto is evaluated (``local.alarms``); each state change is published to
   its SNS topic and, for the alert topic, delivered to the relay handler as a Lambda SNS event
   (``local.sns``). At :30 the escalator handler runs (its EventBridge schedule).
4. The HTTP port serves the actions handler (``functions/actions/app.py``) as its Function URL:
   ``POST /slack/actions``, ``GET``+``POST /ack/{token}``, ``POST /pagerduty``, ``POST /opsgenie``,
   ``POST /alertmanager``, and with a ``status_page`` ``GET /status``, ``/status.json`` and ``/badge/...``.
   A Slack click's follow-ups run in an asynchronous invocation of the same function, as in Lambda.

Every invocation gets a Lambda context whose remaining time is the function's ``Timeout`` in real
seconds (``local.functions.LambdaContext``), whatever the simulated clock does.

The simulated clock is installed for the run (``uptime_relay.clock``), so handlers, retry backoff
and escalation timers follow it. Everything is undone by ``stop()``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from uptime_relay import clock as clockmod
from uptime_relay.config import Config
from uptime_relay.config.loader import load_config

from . import cloudformation as cfn
from .alarms import ALARM, INSUFFICIENT_DATA, OK, AlarmDefinition, LocalAlarms, Transition, UnsupportedAlarm
from .channels import LocalNotifier, console_channels, unresolvable_secrets, wrapped_notifiers
from .console import Timeline, incident_lines
from .faults import Faults
from .functions import LambdaContext, function_url_event, function_url_response, load_function, project_root
from .insights import InsightsAlarm
from .simclock import SimulatedClock, floor_minute
from .sns import ORIGIN_ATTRIBUTE, Delivered, SnsBus

REGION = "us-east-1"
DEFAULT_STACK = "uptime-relay-local"
SNS_PATH = "/_local/sns"  # the alert topic's HTTP subscription on the local port
ENV_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "POWERTOOLS_TRACE_DISABLED",
    "POWERTOOLS_METRICS_DISABLED",
    "POWERTOOLS_DEV",
    "POWERTOOLS_LOG_LEVEL",
    "UPTIME_CONFIG",
)


class LocalStackError(RuntimeError):
    """The local stack could not start (what failed and what to do is in the message)."""


# --------------------------------------------------------------------------------------- output sink
class FunctionOutput(io.TextIOBase):
    """Stands in for stdout during the run: the handlers' JSON log lines and EMF documents land
    here (parsed, not printed); anything else passes through to the real stdout."""

    def __init__(self, passthrough: Any, on_json: Callable[[dict[str, Any]], None], *, echo: bool = False):
        super().__init__()
        self._passthrough = passthrough
        self._on_json = on_json
        self._echo = echo
        self._buffer = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            lines = self._buffer.split("\n")
            self._buffer = lines.pop()
        for line in lines:
            self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                doc = json.loads(stripped)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                self._on_json(doc)
                if self._echo:
                    self._passthrough.write(line + "\n")
                return
        if stripped:
            self._passthrough.write(line + "\n")

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self._passthrough.flush()


def emf_datapoints(doc: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str], float, str | None]]:
    """(namespace, metric, dimensions, value, unit) for every value of an EMF document."""
    meta = doc.get("_aws")
    if not isinstance(meta, Mapping):
        return []
    out = []
    for directive in meta.get("CloudWatchMetrics") or []:
        namespace = directive.get("Namespace")
        dimension_sets = directive.get("Dimensions") or [[]]
        for metric in directive.get("Metrics") or []:
            name = metric.get("Name")
            raw = doc.get(name)
            values = raw if isinstance(raw, list) else [raw]
            for dims in dimension_sets:
                dimensions = {d: str(doc.get(d)) for d in dims}
                for value in values:
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        out.append((namespace, name, dimensions, float(value), metric.get("Unit")))
    return out


def scheduled_event(rule: str, at: datetime, account: str = "123456789012") -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{account}:rule/{rule}"],
        "detail": {},
    }


# --------------------------------------------------------------------------------------- HTTP
class ActionsServer:
    """The actions function's Function URL on 127.0.0.1:<port> (0 picks a free port)."""

    def __init__(
        self,
        port: int,
        invoke: Callable[[dict[str, Any]], Any],
        *,
        sns: Callable[[bytes], None] | None = None,
    ):
        self._invoke = invoke
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._sns = sns  # POST /_local/sns: the alert topic's HTTP subscription (see LocalStack)

    def start(self) -> ActionsServer:
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "POST" and self.path == SNS_PATH and server_self._sns is not None:
                    server_self._sns(body)
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                event = function_url_event(self.command, self.path, dict(self.headers.items()), body)
                try:
                    status, headers, payload = function_url_response(server_self._invoke(event))
                except Exception as exc:  # the function failed: Lambda answers 502
                    status, headers = 502, {"Content-Type": "text/plain"}
                    payload = f"function error: {type(exc).__name__}".encode()
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._requested_port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="local-actions", daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --------------------------------------------------------------------------------------- the stack
class LocalStack:
    """The local stack for ``config_path``. Use as a context manager, or ``start()`` / ``stop()``;
    ``run()`` plays ``minutes`` simulated minutes (forever when None) and returns."""

    def __init__(
        self,
        config_path: str | os.PathLike[str],
        *,
        minute_seconds: float = 2.0,
        minutes: int | None = None,
        http_port: int = 0,
        out: Callable[[str], Any] | None = None,
        faults: Faults | None = None,
        console: bool = False,
        quiet: bool = False,
        verbose: bool = False,
        show_payloads: bool = True,
        start: datetime | None = None,
        stack_name: str = DEFAULT_STACK,
        root: Path | None = None,
        after_minute: Callable[[LocalStack, int], None] | None = None,
    ):
        self.config_path = Path(config_path).resolve()
        self.config: Config = load_config(self.config_path)
        self.minute_seconds = minute_seconds
        self.minutes = minutes
        self.http_port = http_port
        self.faults = faults or Faults()
        self.console_all = console
        self.verbose = verbose
        self.show_payloads = show_payloads
        self.stack_name = stack_name
        self.root = root or project_root()
        self.after_minute = after_minute
        self.clock = SimulatedClock(start or floor_minute(datetime.now(UTC)), minute_seconds)
        if out is print:
            real = sys.stdout
            out = lambda text: print(text, file=real)  # noqa: E731 - bound before stdout is captured
        self._live = False  # simulated minute 0 has started
        self.timeline = Timeline(lambda: self.clock.label() if self._live else "--:--", out, quiet=quiet)
        self.say = self.timeline.say
        self.alarms = LocalAlarms()
        self.stop_event = threading.Event()
        self.ack_urls: dict[str, str] = {}  # incident id -> latest signed ack link seen in a notification
        self.minute = -1
        self.transitions: list[tuple[int, Transition]] = []  # (minute, alarm state change)
        self._exit = contextlib.ExitStack()
        self._env_before: dict[str, str | None] = {}
        self._functions: dict[str, Any] = {}
        self._last_probe: dict[str, tuple[bool, str]] = {}
        self._incidents_seen: dict[str, tuple[str, int]] = {}
        self._pending_metrics: list[dict[str, Any]] = []
        self._metrics_lock = threading.Lock()
        self._probe_logs: list[dict[str, Any]] = []
        self._insights: dict[str, InsightsAlarm] = {}  # multi-time-series alarms, by name
        self.started = False
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._started_shards: list[dict[str, Any]] = []  # shard events the probe started this tick
        self._fast_shards: list[Any] = []  # futures of fast shards still running their rounds
        self._remote_points: list[tuple[str, str, dict[str, str], datetime, float, str | None]] = []
        self._shard_pool: ThreadPoolExecutor | None = None
        self._fast_pool: ThreadPoolExecutor | None = None
        self.shard_invocations = 0  # shards started by the probe's scheduled runs and run here

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started = True
        return self

    def _start(self) -> None:
        try:
            import samtranslator  # noqa: F401 - needed by the stack translation below

            from .moto_server import AtomicMotoServer as ThreadedMotoServer
        except ImportError as exc:
            raise LocalStackError(
                f"uptime-relay local needs moto[server] and aws-sam-translator ({exc.name} is missing): "
                "pip install 'moto[server]' aws-sam-translator, or run `make demo`, which installs them"
            ) from None

        previous_clock = clockmod.install(self.clock)
        self._exit.callback(clockmod.install, previous_clock)
        self._snapshot_env()
        self._set_env(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "false",
                "UPTIME_CONFIG": str(self.config_path),
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("POWERTOOLS_DEV", None)

        # stdout: handlers' log lines and EMF go to the sink (parsed), the timeline keeps its stream
        sink = FunctionOutput(sys.stdout, self._on_function_json, echo=self.verbose)
        real_stdout = sys.stdout
        sys.stdout = sink
        self._exit.callback(setattr, sys, "stdout", real_stdout)

        # moto's request log (and its tracebacks for APIs it lacks, e.g. GetMetricWidgetImage, which
        # the email notifier tolerates), the SAM transform's notes
        for noisy in ("werkzeug", "samtranslator"):
            logger = logging.getLogger(noisy)
            self._exit.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.CRITICAL)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._exit.callback(server.stop)
        host, port = server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._set_env({"AWS_ENDPOINT_URL": self.endpoint})

        # the actions Function URL: bind first, so ACTIONS_URL is known when the stack is created
        self.http = ActionsServer(self.http_port, self._invoke_actions, sns=self._on_topic_post).start()
        self._exit.callback(self.http.stop)
        self.actions_url = self.http.url

        self._create_stack()
        self._reconcile_alarms()
        self._load_functions()
        self.bus = SnsBus(
            self.alert_topic_arn,
            handler=self._invoke_relay,
            now=self.clock.now,
            publish=self.client("sns").publish,
            duplicate=self.faults.duplicate_deliveries,
            out_of_order=self.faults.out_of_order,
            on_delivery=self._on_sns_delivery,
            on_exhausted=self._to_alert_dead_letters,
        )
        self._subscribe_to_alert_topic()
        self.clock.restart()  # setup took real time: simulated minute 0 starts now
        self._live = True
        self.say(
            f"local stack up: moto {self.endpoint}, actions {self.actions_url}, "
            f"{len(self.config.checks)} checks, 1 minute = {self.minute_seconds:g}s"
        )
        self.say(
            f"incidents: uptime-relay incidents list --stack {self.stack_name} --endpoint-url {self.endpoint} "
            f"--region {REGION}  # any AWS credentials do"
        )
        if self.config.status_page is not None:
            self.say(
                f"status page: {self.actions_url}/status (JSON: /status.json, badges: /badge/<check>.svg)"
            )
        for line in self.faults.describe():
            self.say(f"fault: {line}")

    def stop(self) -> None:
        if getattr(self, "bus", None) is not None:
            with contextlib.suppress(Exception):
                self.bus.flush()
        self.stop_event.set()
        self._exit.close()
        self._restore_env()
        self.started = False

    def _snapshot_env(self) -> None:
        self._env_before = {key: os.environ.get(key) for key in ENV_KEYS}

    def _set_env(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            if key not in self._env_before:
                self._env_before[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._env_before = {}

    def client(self, service: str) -> Any:
        """A boto3 client of the moto server (one per service: creating one costs ~0.3 s)."""
        import boto3

        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    region_name=REGION,
                    endpoint_url=self.endpoint,
                    aws_access_key_id="local",
                    aws_secret_access_key="local",
                )
            return self._clients[service]

    # ------------------------------------------------------------------ stack and alarms
    def _create_stack(self) -> None:
        template = cfn.translate_template(self.root / "template.yaml")
        self.stack = cfn.create_stack(
            self.client("cloudformation"),
            template,
            self.stack_name,
            clients=self.client,
            actions_url=self.actions_url,
        )
        outputs = self.stack.outputs
        self.alert_topic_arn = outputs["AlertTopicArn"]
        self.emergency_topic_arn = outputs.get("EmergencyTopicArn")
        self.namespace = outputs.get("MetricsNamespace", "UptimeRelay")
        self.table_name = outputs["TableName"]
        env: dict[str, str] = {}
        for function in self.stack.functions.values():
            env.update(function.environment)
        env["UPTIME_CONFIG"] = str(self.config_path)  # the config layer's file, locally
        if not env.get("ALERTMANAGER_TOKEN_REF"):
            # no AlertmanagerTokenRef parameter: on this loopback-only port, accept webhooks as they come
            env["ALERTMANAGER_ALLOW_UNAUTHENTICATED"] = "true"
        self._set_env(env)
        self.say(
            f"stack {self.stack_name} from template.yaml: "
            f"{len(self.stack.created_in_moto_cloudformation) + len(self.stack.created_directly)} resources "
            f"in moto, {len(self.stack.functions)} functions in-process"
        )

    def _reconcile_alarms(self) -> None:
        from uptime_relay import alarms as check_alarms

        cloudwatch = self.client("cloudwatch")
        desired = check_alarms.desired_alarms(
            self.config,
            namespace=self.namespace,
            topic_arn=self.alert_topic_arn,
            prefix=self.stack_name,
            emergency_topic_arn=self.emergency_topic_arn,
            home_region=REGION,
        )
        changes = check_alarms.reconcile(cloudwatch, desired, self.stack_name, namespace=self.namespace)
        self.say(f"check alarms reconciled: {changes.summary()}")
        self.refresh_alarms(cloudwatch)

    def refresh_alarms(self, cloudwatch: Any = None) -> None:
        """(Re)load into the local evaluator every metric alarm in moto that notifies this stack."""
        cloudwatch = cloudwatch or self.client("cloudwatch")
        now = self.clock.now()
        known = set()
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            for raw in page.get("MetricAlarms", []):
                try:
                    if raw.get("Metrics") and not raw.get("MetricName"):
                        query = InsightsAlarm.from_api(raw)
                        self._insights[query.base.name] = replace(
                            query, base=replace(query.base, configuration_updated=self.clock.start)
                        )
                        known.add(query.base.name)
                        continue
                    definition = AlarmDefinition.from_api(raw)
                except UnsupportedAlarm as exc:
                    self.say(f"alarm {raw.get('AlarmName')} not evaluated locally: {exc}")
                    continue
                ours = {self.alert_topic_arn, self.emergency_topic_arn}
                actions = (
                    definition.alarm_actions + definition.ok_actions + definition.insufficient_data_actions
                )
                if not ours.intersection(actions):
                    continue  # notifies none of this stack's topics (moto's state is per process)
                definition = replace(definition, configuration_updated=self.clock.start)
                self.alarms.define(
                    definition, created=max(now, self.clock.start) if self._live else self.clock.start
                )
                known.add(definition.name)
        for stale in {a.name for a in self.alarms.alarms} - known:
            self.alarms.remove(stale)
        for stale in set(self._insights) - known:
            del self._insights[stale]

    def _add_contributors(self) -> None:
        """Each time series a multi-time-series alarm selects is evaluated as its own contributor,
        from the minute its series first has data (``local/insights.py``)."""
        for query in self._insights.values():
            for contributor in query.contributors(self.alarms.series()):
                if not self.alarms.has(contributor.key):
                    self.alarms.define(contributor, created=self.clock.now())

    # ------------------------------------------------------------------ functions
    def _load_functions(self) -> None:
        from uptime_relay.adapters.secrets import SecretResolver

        console = console_channels(self.config, everything=self.console_all)
        for name in sorted(console):
            why = "--console-channels" if self.console_all else "no real destination"
            self.say(f"channel {name}: {why}, messages are printed here")
        resolver = SecretResolver(ssm_client=self.client("ssm"), secrets_client=self.client("secretsmanager"))
        for name, why in sorted(unresolvable_secrets(self.config, resolver).items()):
            if name not in console:
                console.add(name)
                self.say(
                    f"channel {name}: {why} (use env:NAME, or put it in the local SSM / Secrets "
                    "Manager), messages are printed here"
                )

        def wrap(notifier: Any) -> Any:
            return _AckCapture(
                LocalNotifier(
                    notifier,
                    console=console,
                    faults=self.faults,
                    say=self.say,
                    run_start=self.clock.start,
                    show_payloads=self.show_payloads,
                ),
                self.ack_urls,
            )

        self._exit.enter_context(wrapped_notifiers(wrap))
        for short in ("probe", "relay", "escalator", "actions"):
            try:
                fn = self.stack.function(short)
            except KeyError:
                raise LocalStackError(f"template.yaml declares no {short} function") from None
            try:
                module = load_function(Path(fn.code_path).name, self.root)
            except FileNotFoundError as exc:
                self.say(f"function {short} not available: {exc}")
                continue
            self._functions[short] = (module, fn)
        if "actions" in self._functions:
            self._follow_ups_in_their_own_invocation(self._functions["actions"][0])
        if "probe" in self._functions:
            self._shards_in_their_own_invocations(self._functions["probe"][0])
        self._capture_function_logs()

    def _follow_ups_in_their_own_invocation(self, actions_module: Any) -> None:
        """As in Lambda, the follow-ups of a Slack click run in an asynchronous invocation of the
        actions function (``{"uptime_relay_followup": job}``, its own context and time budget), not
        on the request's thread: one at a time, in order; pending ones finish before ``stop``."""
        from uptime_relay.actions import FOLLOW_UP_EVENT_KEY

        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-actions-async")
        self._exit.callback(worker.shutdown)

        def invoke(job: dict[str, Any]) -> None:
            try:
                self.invoke("actions", {FOLLOW_UP_EVENT_KEY: job})
            except Exception as exc:
                self.say(f"actions function failed on a follow-up: {type(exc).__name__}: {exc}")

        actions_module._deps().follow_up_runner = lambda job: worker.submit(invoke, job)

    @property
    def probe_regions(self) -> list[str]:
        """The home region, then every other region the checks are probed from (each a simulated
        probe-only stack)."""
        extra = dict.fromkeys(r for c in self.config.checks for r in c.regions if r != REGION)
        return [REGION, *extra]

    def _shards_in_their_own_invocations(self, probe_module: Any) -> None:
        """As in Lambda, the shards the scheduled run starts are asynchronous invocations of the
        probe function (here: threads, awaited by the tick for minute shards, in the background
        for fast ones), and a probe-only region's datapoints reach the home region's CloudWatch
        (here: the local evaluator and moto)."""
        run = probe_module._deps()
        run.invoke = self._start_shard
        run.remote_put = self._put_from_region
        self._shard_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="local-probe-shard")
        self._fast_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="local-probe-fast")
        self._exit.callback(self._fast_pool.shutdown)
        self._exit.callback(self._shard_pool.shutdown)

    def _start_shard(self, function_name: str, event: dict[str, Any]) -> None:
        with self._metrics_lock:
            self._started_shards.append(event)

    def _put_from_region(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:
        with self._metrics_lock:
            for datum in MetricData:
                dims = {d["Name"]: d["Value"] for d in datum.get("Dimensions") or []}
                self._remote_points.append(
                    (
                        Namespace,
                        datum["MetricName"],
                        dims,
                        datum["Timestamp"],
                        float(datum["Value"]),
                        datum.get("Unit"),
                    )
                )

    def _invoke_shard(self, event: dict[str, Any]) -> None:
        """One shard invocation; a shard that fails comes back as Lambda's on-failure record."""
        with self._metrics_lock:
            self.shard_invocations += 1
        try:
            self.invoke("probe", event)
        except Exception as exc:
            self.say(f"probe shard failed: {type(exc).__name__}: {exc}")
            record = {
                "version": "1.0",
                "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 1},
                "requestPayload": event,
                "responsePayload": {"errorMessage": f"{type(exc).__name__}: {exc}"},
            }
            try:
                self.invoke("probe", record)
            except Exception as again:
                self.say(f"probe function failed on a lost shard: {type(again).__name__}: {again}")

    def _run_started_shards(self) -> None:
        with self._metrics_lock:
            started, self._started_shards = self._started_shards, []
        if not started or self._shard_pool is None or self._fast_pool is None:
            return
        minute = [e for e in started if e.get("uptime_relay_shard", {}).get("kind") == "minute"]
        fast = [e for e in started if e not in minute]
        for event in fast:
            self._fast_shards.append(self._fast_pool.submit(self._invoke_shard, event))
        list(self._shard_pool.map(self._invoke_shard, minute))

    def _finish_fast_shards(self) -> None:
        running, self._fast_shards = self._fast_shards, []
        for future in running:
            with contextlib.suppress(Exception):
                future.result()

    @property
    def has_high_resolution_alarms(self) -> bool:
        return any(a.period < 60 for a in self.alarms.alarms)

    def _capture_function_logs(self) -> None:
        """Point the functions' log handlers at the stdout sink for the run (Powertools reuses a
        configured logger's handler, which may still hold the stream of an earlier run)."""
        from uptime_relay import metricnames

        names = [metricnames.service(), *logging.root.manager.loggerDict]
        for name in names:
            if not (name == metricnames.service() or name.startswith(("uptime_relay", "uptime-relay"))):
                continue
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler) and not isinstance(
                    handler, logging.FileHandler
                ):
                    previous = handler.setStream(sys.stdout)
                    if previous is not None:
                        self._exit.callback(handler.setStream, previous)

    def _context(self, short: str) -> LambdaContext:
        _, fn = self._functions[short]
        return LambdaContext(
            fn.name, memory_limit_in_mb=fn.memory_mb, timeout_s=fn.timeout_s, region=REGION, clock=self.clock
        )

    def invoke(self, short: str, event: dict[str, Any]) -> Any:
        if short not in self._functions:
            raise LocalStackError(f"the {short} function is not available")
        module, _ = self._functions[short]
        return module.lambda_handler(event, self._context(short))

    def _invoke_relay(self, event: dict[str, Any], context: Any) -> Any:
        return self.invoke("relay", event)

    def _invoke_actions(self, event: dict[str, Any]) -> Any:
        return self.invoke("actions", event)

    def _on_function_json(self, doc: dict[str, Any]) -> None:
        if "_aws" in doc:
            with self._metrics_lock:
                self._pending_metrics.append(doc)
        elif isinstance(doc.get("check"), str) and "reason" in doc:
            with self._metrics_lock:
                self._probe_logs.append(doc)

    def _to_alert_dead_letters(self, event: dict[str, Any], error: str) -> None:
        """The relay failed on a message three times: like Lambda, keep it on the alert DLQ."""
        queue = self.stack.outputs.get("AlertDeadLetterQueueUrl")
        if not queue:
            self.say(f"relay gave up on a message and the stack has no alert dead-letter queue: {error}")
            return
        self.client("sqs").send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(event),
            MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": error[:256] or "error"}},
        )
        self.say("relay failed 3 times on a message: it is on the alert dead-letter queue")

    def _subscribe_to_alert_topic(self) -> None:
        """Messages others publish to the alert topic (``uptime-relay test --endpoint-url``, an
        ``aws sns publish``) reach the relay too: moto delivers them to an HTTP subscription on
        the local port, and they go to the relay as SNS would deliver them. The local alarm
        evaluator's own messages are delivered by the bus already: they carry the attribute
        ``uptime_relay_origin``, which the subscription's filter policy keeps out."""
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-sns")
        self._exit.callback(worker.shutdown)
        self._sns_worker = worker
        self.client("sns").subscribe(
            TopicArn=self.alert_topic_arn,
            Protocol="http",
            Endpoint=self.actions_url + SNS_PATH,
            Attributes={"FilterPolicy": json.dumps({ORIGIN_ATTRIBUTE: [{"exists": False}]})},
        )

    def _on_topic_post(self, body: bytes) -> None:
        try:
            posted = json.loads(body)
        except ValueError:
            return
        if not isinstance(posted, dict) or posted.get("Type") != "Notification":
            return  # a subscription confirmation: moto confirms HTTP subscriptions itself
        message = posted.get("Message")
        if not isinstance(message, str):
            return
        subject = posted.get("Subject") if isinstance(posted.get("Subject"), str) else None
        message_id = posted.get("MessageId") if isinstance(posted.get("MessageId"), str) else None
        self.say(
            f"SNS message {str(message_id)[:8]} published to the alert topic from outside: delivering it"
        )
        self._sns_worker.submit(self.bus.deliver_published, message, subject, message_id)

    def _on_sns_delivery(self, delivery: Delivered) -> None:
        if not delivery.ok:
            self.say(
                f"relay failed on message {delivery.message_id[:8]} (attempt {delivery.attempt}): {delivery.error}"
            )
        elif delivery.duplicate:
            self.say(f"SNS delivered message {delivery.message_id[:8]} again (duplicate)")
        elif delivery.delayed:
            self.say(f"SNS delivered held-back message {delivery.message_id[:8]} (out of order)")

    # ------------------------------------------------------------------ the minute
    def run(self) -> int:
        """Play minutes until ``minutes`` are done or ``stop_event`` is set. Returns minutes played.

        Each minute: the probe tick at :00, the escalator at :30; with high-resolution alarms
        (fast checks) also a tick every 10 s that records the fast shards' datapoints and
        evaluates those alarms."""
        if not self.started:
            self.start()
        played = 0
        minute = 0
        steps = (10, 20, 30, 40, 50) if self.has_high_resolution_alarms else (30,)
        while self.minutes is None or minute < self.minutes:
            if not self.clock.sleep_until(self.clock.start + timedelta(minutes=minute), stop=self.stop_event):
                break
            with self.clock.frozen():  # handlers' real run time does not cost simulated minutes
                self.tick_probe(minute)
                self.watch_incidents()
            stopped = False
            for second in steps:
                if not self.clock.sleep_until(
                    self.clock.start + timedelta(minutes=minute, seconds=second), stop=self.stop_event
                ):
                    stopped = True
                    break
                with self.clock.frozen():
                    if second != 30:
                        if self.tick_fast(minute, second):
                            self.watch_incidents()
                        continue
                    if len(steps) > 1:
                        self.tick_fast(minute, second)
                    self.tick_escalator(minute)
                    if self.after_minute is not None:
                        try:
                            self.after_minute(self, minute)
                        except Exception as exc:
                            self.say(f"scenario step failed: {type(exc).__name__}: {exc}")
                    self.watch_incidents()
            if stopped:
                break
            played += 1
            minute += 1
        self._finish_fast_shards()
        with self.clock.frozen():
            self.bus.flush()
            self.watch_incidents()
        return played

    def tick_fast(self, minute: int, second: int) -> list[Transition]:
        """Between minute ticks: the fast shards' datapoints so far, then the high-resolution
        alarms over their last ended period, evaluated at the 10 s boundary (as CloudWatch
        evaluates them every 10 s), not at the tick's wake-up jitter."""
        self._report_probe_logs()
        start = self.clock.start + timedelta(minutes=minute)
        self._record_metrics(start)
        boundary = min(self.clock.now(), start + timedelta(seconds=second))
        transitions = self.alarms.evaluate(boundary, high_resolution_only=True)
        for transition in transitions:
            self.transitions.append((minute, transition))
            self._publish(transition)
        self.bus.release_due()
        return transitions

    def tick_probe(self, minute: int) -> list[Transition]:
        """Probe, record metrics, evaluate alarms and publish their transitions."""
        self.minute = minute
        at = self.clock.start + timedelta(minutes=minute)  # the schedule's time, as EventBridge sends
        self._finish_fast_shards()  # the last minute's fast rounds have ended by now
        for region in self.probe_regions:  # each region's stack has its own schedule
            event = scheduled_event(f"{self.stack_name}-probe", at)
            event["region"] = region
            try:
                self.invoke("probe", event)
            except Exception as exc:
                self.say(f"probe function failed in {region}: {type(exc).__name__}: {exc}")
        self._run_started_shards()
        self._report_probe_logs()
        self._record_metrics(at)
        self._add_contributors()
        # evaluated at the minute's boundary, as CloudWatch does (not at the tick's wake-up jitter)
        transitions = self.alarms.evaluate(min(self.clock.now(), at), through=floor_minute(at))
        for transition in transitions:
            self.transitions.append((minute, transition))
            self._publish(transition)
        self.bus.release_due()
        return transitions

    def tick_escalator(self, minute: int) -> None:
        try:
            self.invoke("escalator", scheduled_event(f"{self.stack_name}-escalator", self.clock.now()))
        except Exception as exc:
            self.say(f"escalator function failed: {type(exc).__name__}: {exc}")

    def _report_probe_logs(self) -> None:
        with self._metrics_lock:
            logs, self._probe_logs = self._probe_logs, []
        for doc in logs:
            name, ok, reason = doc["check"], bool(doc.get("ok")), str(doc.get("reason"))
            previous = self._last_probe.get(name)
            self._last_probe[name] = (ok, reason)
            if ok and previous is not None and previous[0]:
                continue
            detail = (
                f"({doc.get('status_code')})" if doc.get("status_code") else f"({doc.get('error') or ''})"
            )
            if ok:
                latency = doc.get("latency_ms")
                timing = f", {latency:.0f} ms" if isinstance(latency, int | float) else ""
                self.say(f"probe {name} ok ({doc.get('status_code') or 'connected'}{timing})")
            else:
                self.say(f"probe {name} FAIL {reason} {detail}".rstrip())

    def _record_metrics(self, at: datetime) -> None:
        """The EMF datapoints of this tick: into the local evaluator and moto CloudWatch (so
        ``aws cloudwatch get-metric-data`` against the local endpoint shows them)."""
        with self._metrics_lock:
            docs, self._pending_metrics = self._pending_metrics, []
            remote, self._remote_points = self._remote_points, []
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        points = [
            (namespace, name, dims, _own_time(doc) or at, value, unit)
            for doc in docs
            for namespace, name, dims, value, unit in emf_datapoints(doc)
        ]
        for namespace, name, dims, stamp, value, unit in [*points, *remote]:
            self.alarms.put(namespace, name, dims, stamp, value)
            datum: dict[str, Any] = {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": stamp,
                "Value": value,
            }
            if unit:
                datum["Unit"] = unit
            by_namespace.setdefault(namespace, []).append(datum)
        for namespace, items in by_namespace.items():
            for start in range(0, len(items), 500):
                try:
                    self.client("cloudwatch").put_metric_data(
                        Namespace=namespace, MetricData=items[start : start + 500]
                    )
                except Exception as exc:
                    self.say(f"put_metric_data to moto failed: {exc}")
                    break

    def _publish(self, transition: Transition) -> None:
        alarm = transition.alarm
        check = next((v for k, v in alarm.dimensions if k == "Check"), None)
        dependency = dict(alarm.contributor_attributes).get("Dependency")
        who = f"{check} / {dependency}" if check and dependency else check or alarm.name
        reason = transition.reason
        quiet = transition.old_state == INSUFFICIENT_DATA and transition.new_state == OK
        if quiet and not check:
            pass  # the pipeline's own alarms settling at start: published, not worth a line
        elif transition.new_state == ALARM:
            self.say(f"ALARM {who} ({_short_reason(reason)})")
        elif transition.new_state == OK:
            self.say(f"OK {who} (was {transition.old_state})")
        elif transition.new_state == INSUFFICIENT_DATA:
            self.say(f"INSUFFICIENT_DATA {who} ({reason})")
        for action in transition.actions:
            if action == self.alert_topic_arn:
                self.bus.publish_transition(transition)
            elif action.startswith("arn:aws:sns:"):
                with contextlib.suppress(Exception):
                    self.client("sns").publish(
                        TopicArn=action, Message=transition.message_json(), Subject=transition.subject
                    )
                if not quiet:
                    label = "emergency topic" if action == self.emergency_topic_arn else action
                    self.say(f"{transition.new_state} {alarm.name} published to the {label}")

    # ------------------------------------------------------------------ incidents on the timeline
    def store(self) -> Any:
        from uptime_relay.adapters.incidents import DynamoIncidentStore

        return DynamoIncidentStore(self.table_name, client=self.client("dynamodb"))

    def incidents(self, statuses: tuple[str, ...] = ("open", "acknowledged", "resolved")) -> list[Any]:
        return list(self.store().list(statuses=statuses))

    def watch_incidents(self) -> None:
        """Print incident changes (opened, escalation steps, ack, resolve) since the last look."""
        try:
            incidents = self.incidents()
        except Exception as exc:
            self.say(f"cannot read incidents: {type(exc).__name__}: {exc}")
            return
        for incident in incidents:
            seen_entries = self._incidents_seen.get(incident.id, ("", 0))[1]
            entries = list(incident.timeline)
            for line in incident_lines(incident, entries[seen_entries:]):
                self.say(line)
            self._incidents_seen[incident.id] = (incident.status, len(entries))

    # ------------------------------------------------------------------ helpers for scenarios/tests
    def ack_link(self, incident_id: str) -> str | None:
        return self.ack_urls.get(incident_id)


def _own_time(doc: Mapping[str, Any]) -> datetime | None:
    """A high-resolution EMF document's own timestamp (a fast round's time); None for the others,
    which the tick stamps with its minute."""
    meta = doc.get("_aws") or {}
    directives = meta.get("CloudWatchMetrics") or []
    high = any(m.get("StorageResolution") == 1 for d in directives for m in d.get("Metrics") or [])
    stamp = meta.get("Timestamp")
    if not high or not isinstance(stamp, int | float):
        return None
    return datetime.fromtimestamp(stamp / 1000.0, UTC)


def _short_reason(reason: str) -> str:
    head = reason.split(" [", 1)[0]
    return head.removeprefix("Threshold Crossed: ")


class _AckCapture:
    """Remembers the signed ack link each notification carried (the demo follows it)."""

    def __init__(self, inner: Any, sink: dict[str, str]):
        self._inner = inner
        self._sink = sink
        self.type = inner.type

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def build_payloads(self, channel: Any, notification: Any) -> list[dict[str, Any]]:
        return self._inner.build_payloads(channel, notification)

    def send(self, channel: Any, notification: Any, secrets: Any) -> Any:
        if notification.incident_id and notification.ack_url:
            self._sink[notification.incident_id] = notification.ack_url
        return self._inner.send(channel, notification, secrets)
