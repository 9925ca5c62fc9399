"""The import test (``import_check.py``): what it catches, and the built functions passing it.

The first tests run its clean-interpreter child on small handcrafted "function" and "layer"
folders, so they need python3.13 but no build. The last one runs the whole check on
``.aws-sam/build`` and is skipped without a build; CI runs it as ``make import-test`` right after
``make build``, which fails (never skips) when the build is missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import import_check
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
FUNCTIONS = {"probe", "relay", "escalator", "actions", "alarms"}


@pytest.fixture(scope="module")
def python313() -> str:
    try:
        return import_check.runtime_python()
    except import_check.ImportTestError as exc:
        pytest.skip(str(exc))


def _run(python313: str, tmp_path: Path, app: str, layer_files: dict[str, str]) -> dict:
    function, layer, sdk = tmp_path / "function", tmp_path / "layer", tmp_path / "sdk"
    for folder in (function, layer, sdk):
        folder.mkdir()
    (function / "app.py").write_text(app)
    for name, text in layer_files.items():
        (layer / name).write_text(text)
    (tmp_path / "event.json").write_text(json.dumps({"ping": 1}))
    spec = {
        "short": "fn",
        "paths": [str(function), str(layer), str(sdk)],
        "handler": "app.lambda_handler",
        "event": str(tmp_path / "event.json"),
        "function_name": "fn",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "memory_mb": 128,
        "timeout_s": 30,
        "request_id": "r",
    }
    return import_check.run_child(python313, spec, {"PATH": "/usr/bin:/bin"}, tmp_path)


def test_a_package_missing_from_the_layer_fails_naming_it(python313, tmp_path):
    # yaml is installed in the dev virtualenv but not in this "layer": Lambda would fail the same way
    report = _run(
        python313,
        tmp_path,
        "import shared\ndef lambda_handler(e, c): return 1\n",
        {"shared.py": "import yaml\n"},
    )
    assert report["missing_module"] == "yaml"
    assert "No module named 'yaml'" in report["error"]


def test_a_module_loaded_from_outside_the_lambda_paths_is_reported(python313, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "stray.py").write_text("VALUE = 1\n")
    app = f"import sys\nsys.path.append({str(elsewhere)!r})\nimport stray\ndef lambda_handler(e, c): return stray.VALUE\n"
    report = _run(python313, tmp_path, app, {})
    assert report["error"] is None and report["result"] == 1
    assert [m.split(":")[0] for m in report["outside"]] == ["stray"]


def test_the_handler_runs_on_the_event_with_a_lambda_context(python313, tmp_path):
    app = "def lambda_handler(event, context):\n    return [event['ping'], context.function_name, context.get_remaining_time_in_millis() > 0]\n"
    report = _run(python313, tmp_path, app, {})
    assert report["result"] == [1, "fn", True]
    assert report["outside"] == []


def test_the_layer_pins_one_matching_boto3_botocore_pair():
    """boto3 and botocore are released together with the same version number: the layer pins both,
    to the same version, so the runtime's boto3 never runs on the layer's botocore."""
    text = (ROOT / "layers" / "shared" / "requirements.txt").read_text()
    pins = dict(re.findall(r"^(boto3|botocore)==(\S+)\s*$", text, flags=re.M))
    assert set(pins) == {"boto3", "botocore"}, "pin both boto3 and botocore in layers/shared/requirements.txt"
    assert pins["boto3"] == pins["botocore"]


@pytest.mark.skipif(
    not (BUILD / "template.yaml").is_file(), reason="no sam build output (`make build` first)"
)
def test_every_built_function_imports_and_runs_as_on_lambda(python313):
    lines: list[str] = []
    outcomes = import_check.check(
        BUILD, ROOT / ".aws-sam" / "import-test-cache", python=python313, say=lines.append
    )
    assert {o.function for o in outcomes} == FUNCTIONS
    assert [o.function for o in outcomes if not o.ok] == [], "\n".join(lines)
    for outcome in outcomes:
        origins = outcome.report["origins"]
        assert origins["uptime_relay"] == origins["aws_lambda_powertools"]  # both from the layer
        if "boto3" in origins:
            assert origins["boto3"] == origins["botocore"]
