"""Load the Lambda handlers from ``functions/<name>/app.py`` and call them as Lambda would.

Function folders are not packages (each has its own ``app.py``), so each is loaded from its file
under a unique module name. ``LambdaContext`` carries what Powertools reads from a context.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from uptime_relay import clock as clockmod

from .simclock import SimulatedClock

ROOT_ENV = "UPTIME_RELAY_ROOT"


def project_root() -> Path:
    """The checkout holding ``template.yaml`` and ``functions/``: $UPTIME_RELAY_ROOT, else the
    directory above the package (editable install), else the current directory or a parent."""
    candidates: list[Path] = []
    if os.environ.get(ROOT_ENV):
        candidates.append(Path(os.environ[ROOT_ENV]))
    here = Path(__file__).resolve()
    candidates += list(here.parents)
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents]
    for path in candidates:
        if (path / "template.yaml").is_file() and (path / "functions").is_dir():
            return path
    raise FileNotFoundError(
        "cannot find the uptime-relay checkout (template.yaml and functions/): run from the "
        f"repository or set {ROOT_ENV}"
    )


def load_function(name: str, root: Path | None = None) -> ModuleType:
    """Import ``functions/<name>/app.py`` as module ``uptime_relay_fn_<name>`` (fresh each call)."""
    path = (root or project_root()) / "functions" / name / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"no handler for function {name!r}: {path} is missing")
    module_name = f"uptime_relay_fn_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """The attributes of a Lambda context object that Powertools and handlers use.

    The time budget is Lambda's, in real seconds: ``timeout_s`` (the function's ``Timeout``) minus
    the real time since the context was made, whatever the simulated clock does (it runs
    ``60 / minute_seconds`` times faster, or stands still during a tick). With ``clock`` (the
    simulated clock of ``uptime-relay local``), each ``sleep`` of the invoking thread costs the
    seconds it was asked for, as in Lambda, though it waits only a fraction of them: a
    ``Retry-After: 5`` spends 5 s of the budget either way."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_s: float = 30.0
    region: str = "us-east-1"
    account: str = "123456789012"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    clock: SimulatedClock | None = field(default=None, repr=False)  # default: the installed one

    def __post_init__(self) -> None:
        installed = clockmod.current()
        if self.clock is None and isinstance(installed, SimulatedClock):
            self.clock = installed
        self._thread = threading.get_ident()  # the handler runs on the thread that invokes it
        self._started = self._spent()

    def _spent(self) -> float:
        """Seconds on a running count that Lambda would charge this invocation for."""
        if self.clock is None:
            return time.monotonic()
        return self.clock.real_time() + self.clock.wait_surplus(self._thread)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.aws_request_id[:8]}"

    @property
    def identity(self) -> None:
        return None

    @property
    def client_context(self) -> None:
        return None

    def get_remaining_time_in_millis(self) -> int:
        spent = self._spent() - self._started
        return max(0, int((self.timeout_s - spent) * 1000))


def function_url_event(
    method: str, raw_path: str, headers: Mapping[str, str], body: bytes, *, source_ip: str = "127.0.0.1"
) -> dict[str, Any]:
    """A Lambda Function URL (payload 2.0) event for one HTTP request."""
    parts = urlsplit(raw_path)
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_b64 = base64.b64encode(body).decode("ascii"), True
    now = clockmod.now()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": lowered,
        "queryStringParameters": dict(
            item.split("=", 1) if "=" in item else (item, "") for item in parts.query.split("&") if item
        )
        or None,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def function_url_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Interpret a Function URL handler's return value as Lambda does (dict with statusCode, or a
    bare value that becomes a 200 JSON body)."""
    if isinstance(result, Mapping) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        return int(result["statusCode"]), headers, raw
    import json

    return 200, {"Content-Type": "application/json"}, json.dumps(result).encode("utf-8")
