"""Import and invoke every built function the way Lambda would: the Lambda-faithful import test.

Runs after ``sam build`` (``make import-test``). For each function of ``.aws-sam/build/template.yaml``
it starts a clean python3.13 (``-I -S``: no site-packages, no PYTHONPATH, no current directory)
whose path holds only

* the function's built folder (``.aws-sam/build/<Function>``, Lambda's /var/task),
* the built shared layer (``.aws-sam/build/SharedLayer/python``, Lambda's /opt/python), as an
  x86_64 copy of the same versions (below),
* boto3/botocore at the versions the Lambda python3.13 runtime bundles (``RUNTIME_SDK``; Lambda's
  /var/lang/lib/python3.13/site-packages), installed once into a cache folder by pip,

then the interpreter's own standard library. It imports the handler, invokes it once on a sample
event against a moto server holding the stack's resources (created from the built template), and
fails on any import error, any module loaded from outside those paths, boto3 and botocore loaded
from different places (a runtime boto3 on a layer botocore), or an invocation that did not do its
job: the probe finds its local check up, the relay opens an incident and notifies a local Slack
webhook, the escalator sweeps without failure, the actions function accepts an Alertmanager
webhook (2xx), the alarms function answers SUCCESS to CloudFormation's ResponseURL.

The layer is built for arm64 (template.yaml ``BuildArchitecture``), so its compiled wheels (PyYAML's
``_yaml``, wrapt, charset_normalizer) do not load on an x86_64 machine. The test therefore installs
an x86_64 copy with pip, pinned to exactly the distributions and versions the built layer's
``*.dist-info`` folders hold (``--no-deps``: the built layer is the complete list), adds what the
layer holds outside any distribution (the ``uptime_relay`` package) copied from the build, and
checks that every pure-Python file of the copy has the hash the built layer's RECORD gives it: the
two differ only in compiled extension modules.

Usage: python tests/deploy/import_check.py [--build-dir .aws-sam/build] [--only probe ...]
       python tests/deploy/import_check.py --measure 7     # cold import of each handler, no invoke
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).resolve().with_name("import_child.py")
# boto3/botocore the AWS Lambda python3.13 runtime bundles: source and update steps in
# docs/operations.md ("The runtime's AWS SDK").
RUNTIME_SDK = {"boto3": "1.38.36", "botocore": "1.38.36"}
PYTHON_VERSION = "3.13"
PLATFORM = "manylinux_2_28_x86_64"  # pip widens it to every older manylinux tag
REGION = "us-east-1"
STACK = "import-test"
TOKEN = "import-test-alertmanager-token"  # a value in the local moto SSM only
SSM_TOKEN = "/uptime/import-test/alertmanager-token"
SSM_SLACK = "/uptime/import-test/slack-webhook"
NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


class ImportTestError(Exception):
    """The build is missing or a prerequisite could not be prepared (not a handler failure)."""


# ----------------------------------------------------------------------------------- interpreter
def runtime_python(explicit: str | None = None) -> str:
    """The python3.13 of the Lambda runtime: --python, else pyenv's 3.13.0 (as `make build` uses)."""
    candidates = [explicit] if explicit else []
    env = {**os.environ, "PYENV_VERSION": "3.13.0"}
    found = shutil.which("python3.13", path=env.get("PATH"))
    candidates += [found, str(Path.home() / ".pyenv/versions/3.13.0/bin/python3")]
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run(
                [candidate, "-I", "-S", "-c", "import sys; print(sys.executable, *sys.version_info[:2])"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        if out[1:] == ["3", "13"]:
            return out[0]
    raise ImportTestError("no python3.13 found (pyenv 3.13.0, as `make build` uses, or --python)")


def pip_install(target: Path, requirements: list[str], *, compile_bytecode: bool = True) -> None:
    """Install wheels for CPython 3.13 on manylinux x86_64 into ``target`` (exact pins, no deps)."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--implementation", "cp",
        "--python-version", PYTHON_VERSION, "--platform", PLATFORM,
        "--target", str(partial), *requirements,
    ]  # fmt: skip
    if not compile_bytecode:
        command.insert(4, "--no-compile")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise ImportTestError(f"pip install failed:\n{result.stdout}{result.stderr}")
    partial.rename(target)


# ----------------------------------------------------------------------------------- the SDK
def runtime_sdk(cache: Path) -> Path:
    """boto3 + botocore at the runtime's versions, with the dependencies the runtime ships them with."""
    key = "-".join(f"{k}{v}" for k, v in sorted(RUNTIME_SDK.items()))
    target = cache / f"runtime-sdk-{key}"
    if not target.is_dir():
        boto3, botocore = RUNTIME_SDK["boto3"], RUNTIME_SDK["botocore"]
        # resolve the pair's dependencies once (pip with deps), then install the resolved set exactly
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            command = [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--dry-run", "--ignore-installed", "--report", str(report), "--only-binary=:all:",
                "--implementation", "cp", "--python-version", PYTHON_VERSION, "--platform", PLATFORM,
                "--target", str(Path(tmp) / "t"), f"boto3=={boto3}", f"botocore=={botocore}",
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                raise ImportTestError(f"cannot resolve the runtime SDK:\n{result.stdout}{result.stderr}")
            pins = [
                f"{item['metadata']['name']}=={item['metadata']['version']}"
                for item in json.loads(report.read_text())["install"]
            ]
        pip_install(target, pins)
    return target


# ----------------------------------------------------------------------------------- the layer
@dataclass
class Distribution:
    name: str
    version: str
    dist_info: Path
    record: dict[str, str] = field(default_factory=dict)  # path -> "sha256=..."


def layer_distributions(layer: Path) -> list[Distribution]:
    """The distributions a built layer holds, read from its ``*.dist-info`` folders."""
    dists = []
    for info in sorted(layer.glob("*.dist-info")):
        meta = {}
        for line in (info / "METADATA").read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            meta.setdefault(key.strip().lower(), value.strip())
        record = {}
        if (info / "RECORD").is_file():
            with (info / "RECORD").open(newline="", encoding="utf-8") as f:
                record = {row[0]: row[1] for row in csv.reader(f) if row and len(row) > 1}
        dists.append(Distribution(meta["name"], meta["version"], info, record))
    return dists


def _top_level(path: str) -> str:
    return path.replace("\\", "/").split("/", 1)[0]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def x86_layer(built: Path, cache: Path, workdir: Path) -> tuple[Path, list[str]]:
    """An x86_64 copy of the built (arm64) layer: same distributions and versions, same
    non-distribution content. Returns the copy and the pins it was made from."""
    dists = layer_distributions(built)
    pins = sorted(f"{d.name}=={d.version}" for d in dists)
    key = hashlib.sha256("\n".join([PLATFORM, *pins]).encode()).hexdigest()[:12]
    deps = cache / f"layer-deps-{key}"
    if pins and not deps.is_dir():
        pip_install(deps, pins, compile_bytecode=False)  # the built layer ships no bytecode either
    copy = workdir / "layer-x86_64"
    if deps.is_dir():
        shutil.copytree(deps, copy, ignore=NO_BYTECODE)
    else:
        copy.mkdir()
    # what the layer holds outside any distribution (the uptime_relay package): copied as built
    owned = {d.dist_info.name for d in dists} | {_top_level(p) for d in dists for p in d.record}
    for entry in built.iterdir():
        if entry.name not in owned and not (copy / entry.name).exists():
            if entry.is_dir():
                shutil.copytree(entry, copy / entry.name, ignore=NO_BYTECODE)
            else:
                shutil.copy2(entry, copy / entry.name)
    # the two must differ only in compiled code: every pure-Python file has the built layer's hash
    for dist in dists:
        for path, digest in dist.record.items():
            if path.endswith(".py") and not path.startswith("..") and not _top_level(path).endswith(".data"):
                target = copy / path
                if not target.is_file() or _file_hash(target) != digest:
                    raise ImportTestError(
                        f"the x86_64 copy of {dist.name}=={dist.version} differs from the built layer at {path}"
                    )
    return copy, pins


# ----------------------------------------------------------------------------------- local servers
class Recorder(ThreadingHTTPServer):
    """A local HTTP endpoint: the probe's target, the Slack webhook, CloudFormation's ResponseURL."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def seen(self, method: str, path: str) -> list[bytes]:
        return [body for m, p, body in list(self.requests) if m == method and p == path]


class _RecordingHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, body))  # type: ignore[attr-defined]
        payload = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


# ----------------------------------------------------------------------------------- the run
@dataclass
class Outcome:
    function: str
    ok: bool
    problems: list[str]
    report: dict[str, Any]


def test_config(target_url: str) -> str:
    return f"""\
# The import test's config (in place of the config layer's /opt/uptime.yaml): local targets only.
checks:
  - name: import-test
    url: {target_url}/health
    timeout: 5s
    expect: {{status: [200], body_contains: "ok"}}
    labels: {{severity: critical, team: platform}}
channels:
  slack-local: {{type: slack, webhook_url: "ssm:{SSM_SLACK}"}}
routes:
  - notify: [slack-local]
"""


def child_env(function: Any, code: Path, endpoint: str, config: Path) -> dict[str, str]:
    """The environment Lambda gives the function (template variables + runtime-reserved ones),
    with the AWS endpoint pointed at moto and UPTIME_CONFIG at the test's config."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "LAMBDA_TASK_ROOT": str(code),
        "_HANDLER": function.handler,
        # Tracing: Active. The X-Ray segment Lambda opens; segments go to a UDP port nobody reads.
        "_X_AMZN_TRACE_ID": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    env.update(function.environment)
    env["UPTIME_CONFIG"] = str(config)
    return env


def _events(stack: Any, recorder: Recorder, workdir: Path) -> dict[str, Path]:
    from uptime_relay_tools.local.functions import function_url_event

    scheduled = ROOT / "events" / "sam-cloudwatch-scheduled-event.json"
    body = (ROOT / "events" / "alertmanager-webhook-firing.json").read_bytes()
    actions = function_url_event(
        "POST",
        "/alertmanager",
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Host": "127.0.0.1"},
        body,
    )
    alarms_fn = stack.function("alarms")
    params = stack.parameters
    custom = {
        "RequestType": "Create",
        "ServiceToken": f"arn:aws:lambda:{REGION}:123456789012:function:{alarms_fn.name}",
        "ResponseURL": f"{recorder.url}/cloudformation-response",
        "StackId": f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/{uuid.uuid4()}",
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "CheckAlarms",
        "ResourceType": "Custom::CheckAlarms",
        "ResourceProperties": {
            "ServiceToken": f"arn:aws:lambda:{REGION}:123456789012:function:{alarms_fn.name}",
            "ConfigLayerArn": alarms_fn.environment.get("CONFIG_LAYER_ARN", ""),
            "TopicArn": stack.output("AlertTopicArn"),
            "Prefix": STACK,
            "Namespace": stack.output("MetricsNamespace"),
            "SecretsSsmPrefix": params.get("SecretsSsmPrefix", "/uptime/"),
            "SecretsManagerPrefix": params.get("SecretsManagerPrefix", "uptime/"),
            "AlertmanagerTokenRef": params.get("AlertmanagerTokenRef", ""),
            "PagerDutyWebhookSecretRef": "",
        },
    }
    files = {"actions": actions, "alarms": custom}
    paths = {"probe": scheduled, "escalator": scheduled, "relay": ROOT / "events" / "sns-alarm-metric.json"}
    for name, event in files.items():
        paths[name] = workdir / f"event-{name}.json"
        paths[name].write_text(json.dumps(event), encoding="utf-8")
    return paths


def _short(function: Any) -> str:
    return function.name.rsplit("-", 1)[-1]


def _judge(short: str, report: dict[str, Any], recorder: Recorder) -> list[str]:
    """What the invocation must have done, beyond not raising."""
    problems = []
    origins = report.get("origins") or {}
    if "boto3" in origins and origins.get("boto3") != origins.get("botocore"):
        problems.append(
            f"boto3 and botocore come from different places: boto3 from {origins.get('boto3')}, "
            f"botocore from {origins.get('botocore')} (a boto3 running on a botocore it was not released with)"
        )
    if report.get("error"):
        return problems
    result = report.get("result")
    if short == "probe" and not (
        recorder.seen("GET", "/health") and isinstance(result, dict) and result.get("failed") == 0
    ):
        problems.append(f"the probe did not find the local check up: {result!r:.300}")
    if short == "actions" and not (
        isinstance(result, dict) and 200 <= int(result.get("statusCode", 0)) < 300
    ):
        problems.append(f"the actions function answered {result!r:.300}")
    if short == "alarms":
        answers = [json.loads(b or b"{}") for b in recorder.seen("PUT", "/cloudformation-response")]
        if not answers or answers[-1].get("Status") != "SUCCESS":
            problems.append(f"CloudFormation's ResponseURL got {answers!r:.400}")
    if short == "relay":
        results = result.get("results") if isinstance(result, dict) else None
        deliveries = [d for r in results or [] for d in r.get("deliveries") or []]
        if (
            not results
            or any(r.get("error") for r in results)
            or not deliveries
            or not all(d.get("ok") for d in deliveries)
        ):
            problems.append(f"the relay did not open the incident and notify the channel: {result!r:.400}")
    if short == "escalator" and not (isinstance(result, dict) and result.get("failed") == []):
        problems.append(f"the escalator sweep failed: {result!r:.300}")
    return problems


def run_child(python: str, spec: dict[str, Any], env: dict[str, str], workdir: Path) -> dict[str, Any]:
    spec_path = workdir / f"spec-{spec['short']}.json"
    spec["report"] = str(workdir / f"report-{spec['short']}-{uuid.uuid4().hex[:6]}.json")
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.run(
        # -B: /var/task and /opt are read-only on Lambda, so no bytecode is cached between cold starts
        [python, "-I", "-S", "-B", str(CHILD), str(spec_path)],
        env=env,
        cwd=spec["paths"][0],  # Lambda's working directory is the function's code folder
        capture_output=True,
        text=True,
        timeout=spec["timeout_s"] + 60,
    )
    report_path = Path(spec["report"])
    if not report_path.is_file():
        return {"error": f"the interpreter exited {proc.returncode}:\n{proc.stderr[-3000:]}", "outside": []}
    report = json.loads(report_path.read_text())
    report["output"] = (proc.stdout + proc.stderr)[-4000:]
    return report


@dataclass
class Prepared:
    python: str
    sdk: Path
    layer: Path
    pins: list[str]
    functions: list[Any]


def prepare(build: Path, cache: Path, workdir: Path, python: str | None) -> Prepared:
    template = build / "template.yaml"
    layer = build / "SharedLayer" / "python"
    if not template.is_file() or not layer.is_dir():
        raise ImportTestError(f"no sam build output in {build}: run `make build` first")
    cache.mkdir(parents=True, exist_ok=True)
    interpreter = runtime_python(python)
    sdk = runtime_sdk(cache)
    copy, pins = x86_layer(layer, cache, workdir)
    return Prepared(interpreter, sdk, copy, pins, [])


def check(
    build: Path, cache: Path, *, python: str | None = None, only: list[str] | None = None, say: Any = print
) -> list[Outcome]:
    """Import and invoke each built function; returns one Outcome per function."""
    import boto3
    from uptime_relay_tools.local import cloudformation as cfn
    from uptime_relay_tools.local.moto_server import AtomicMotoServer

    with tempfile.TemporaryDirectory(prefix="import-test-") as tmp:
        workdir = Path(tmp)
        ready = prepare(build, cache, workdir, python)
        say(
            f"interpreter {ready.python}; runtime SDK {ready.sdk.name}; layer x86_64 copy of {len(ready.pins)} distributions"
        )
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            os.environ.setdefault(key, value)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        recorder = Recorder()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"

            def client(service: str) -> Any:
                return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

            client("ssm").put_parameter(Name=SSM_TOKEN, Value=TOKEN, Type="SecureString")
            client("ssm").put_parameter(Name=SSM_SLACK, Value=f"{recorder.url}/slack", Type="SecureString")
            parameters = {
                "AlertmanagerTokenRef": f"ssm:{SSM_TOKEN}",
                # with a DSN the handlers import sentry_sdk; nothing is sent unless a handler fails
                "SentryDsn": "https://public@127.0.0.1:9/1",
            }
            template = cfn.translate_template(build / "template.yaml", parameters)
            stack = cfn.create_stack(
                client("cloudformation"),
                template,
                STACK,
                parameters,
                clients=client,
                actions_url=f"{recorder.url}/actions",
            )
            config = workdir / "uptime.yaml"
            config.write_text(test_config(recorder.url), encoding="utf-8")
            events = _events(stack, recorder, workdir)
            outcomes = []
            for function in sorted(stack.functions.values(), key=lambda f: f.logical_id):
                short = _short(function)
                if only and short not in only:
                    continue
                code = (build / function.code_path).resolve()
                spec = {
                    "short": short,
                    "paths": [str(code), str(ready.layer), str(ready.sdk)],
                    "handler": function.handler,
                    "event": str(events[short]),
                    "function_name": function.name,
                    "function_arn": f"arn:aws:lambda:{REGION}:123456789012:function:{function.name}",
                    "memory_mb": function.memory_mb,
                    "timeout_s": min(function.timeout_s, 120),
                    "request_id": str(uuid.uuid4()),
                }
                report = run_child(ready.python, spec, child_env(function, code, endpoint, config), workdir)
                problems = []
                if report.get("error"):
                    missing = report.get("missing_module")
                    head = f"missing module {missing!r}: " if missing else ""
                    problems.append(f"{head}{report['error'].strip().splitlines()[-1]}")
                problems += [f"loaded from outside the Lambda paths: {m}" for m in report.get("outside", [])]
                problems += _judge(short, report, recorder)
                outcome = Outcome(short, not problems, problems, report)
                outcomes.append(outcome)
                origins = report.get("origins") or {}
                where = {k: _where(v, code, ready) for k, v in origins.items() if k in ("boto3", "botocore")}
                say(
                    f"{'ok  ' if outcome.ok else 'FAIL'} {short:<10} import {report.get('import_ms')} ms, "
                    f"invoke {report.get('invoke_ms')} ms, {report.get('modules')} modules, "
                    f"boto3 from {where.get('boto3', '-')}, botocore from {where.get('botocore', '-')}"
                )
                for problem in problems:
                    say(f"     {problem}")
                if problems and report.get("error"):
                    say("     " + report["error"].strip().replace("\n", "\n     "))
            return outcomes
        finally:
            recorder.shutdown()
            server.stop()


def _where(origin: str, code: Path, ready: Prepared) -> str:
    if Path(origin) == code:
        return "function"
    if Path(origin) == ready.layer.resolve():
        return "layer"
    if Path(origin) == ready.sdk.resolve():
        return "runtime"
    return origin


def measure(
    build: Path, cache: Path, runs: int, *, python: str | None = None, say: Any = print
) -> dict[str, float]:
    """Median CPU time of ``import app`` in a fresh interpreter per run (no invoke), per function
    (CPU rather than wall time: steadier on a shared machine; both are printed)."""
    from uptime_relay_tools.local import cloudformation as cfn

    with tempfile.TemporaryDirectory(prefix="import-measure-") as tmp:
        workdir = Path(tmp)
        ready = prepare(build, cache, workdir, python)
        template = cfn.load_template(build / "template.yaml")
        layer_bytes = sum(
            f.stat().st_size for f in (build / "SharedLayer" / "python").rglob("*") if f.is_file()
        )
        say(f"built layer: {layer_bytes / 1e6:.1f} MB in {build / 'SharedLayer' / 'python'}")
        medians = {}
        for lid, res in sorted(template["Resources"].items()):
            if res.get("Type") != "AWS::Serverless::Function":
                continue
            code = (build / res["Properties"]["CodeUri"]).resolve()
            short = lid.removesuffix("Function").removesuffix("Reconciler").lower()
            env = {
                "PATH": "/usr/bin:/bin", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_LAMBDA_FUNCTION_NAME": f"{STACK}-{short}", "LAMBDA_TASK_ROOT": str(code),
                "POWERTOOLS_SERVICE_NAME": "uptime-relay", "SENTRY_DSN": "",
            }  # fmt: skip
            times = []
            for _ in range(runs):
                spec = {
                    "short": short, "paths": [str(code), str(ready.layer), str(ready.sdk)],
                    "handler": "app.lambda_handler", "import_only": True, "timeout_s": 60,
                    "function_name": env["AWS_LAMBDA_FUNCTION_NAME"], "function_arn": "", "memory_mb": 256,
                    "request_id": "",
                }  # fmt: skip
                started = time.perf_counter()
                report = run_child(ready.python, spec, env, workdir)
                wall = (time.perf_counter() - started) * 1000
                if report.get("error"):
                    raise ImportTestError(f"{short}: {report['error']}")
                times.append((report["import_ms"], report["import_cpu_ms"], wall))
            medians[short] = statistics.median(t[1] for t in times)
            say(
                f"{short:<10} import app: CPU median {medians[short]:.0f} ms "
                f"(min {min(t[1] for t in times):.0f}, max {max(t[1] for t in times):.0f}); "
                f"wall median {statistics.median(t[0] for t in times):.0f} ms; "
                f"whole interpreter {statistics.median(t[2] for t in times):.0f} ms; {runs} runs"
            )
        return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--cache", type=Path, default=ROOT / ".aws-sam" / "import-test-cache")
    parser.add_argument("--python", help="the python3.13 to use (default: pyenv 3.13.0)")
    parser.add_argument(
        "--only", nargs="*", help="function short names (probe relay escalator actions alarms)"
    )
    parser.add_argument(
        "--measure", type=int, metavar="RUNS", help="measure cold import only, RUNS times each"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.measure:
            measure(args.build_dir, args.cache, args.measure, python=args.python)
            return 0
        outcomes = check(args.build_dir, args.cache, python=args.python, only=args.only)
    except ImportTestError as exc:
        print(f"import test: {exc}", file=sys.stderr)
        return 2
    failed = [o.function for o in outcomes if not o.ok]
    took = time.monotonic() - started
    if not outcomes:
        print("import test: no function checked", file=sys.stderr)
        return 2
    if failed:
        print(f"import test FAILED for {', '.join(failed)} ({took:.0f} s)", file=sys.stderr)
        return 1
    print(f"import test passed: {len(outcomes)} functions imported and invoked as on Lambda ({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
