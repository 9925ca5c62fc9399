"""What `sam deploy` of the built template would create, and the SAR metadata check (`make package`).

``make deploy-check`` runs ``sam validate --lint``, ``sam build``, the import test and the IaC scan,
then this module on ``.aws-sam/build/template.yaml``: it translates the built template offline
(aws-sam-translator, as CloudFormation's SAM transform would) and prints

* every resource the stack would hold (type and logical id, with its condition if it has one);
* the IAM actions each function's role gets (inline statements, expanded SAM policy templates,
  and the AWS managed policies attached by name);
* the estimated monthly cost for the configuration (``uptime_relay_tools.cost``, as
  ``uptime-relay cost CONFIG`` prints it).

``--sar-only`` checks the ``AWS::ServerlessRepo::Application`` metadata instead (what
``sam package``/``sam publish`` need, and the version in step with pyproject.toml);
``--package-local OUT`` then runs ``sam package`` against a moto S3 on this machine, so every
artifact, the LICENSE and the README are found and uploaded as they would be, and OUT is the
packaged template (its ``s3://`` locations name the stand-in bucket: not publishable).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .local.cloudformation import load_template, translate_template

ROOT = Path(__file__).resolve().parents[2]
SAR_KEY = "AWS::ServerlessRepo::Application"
SAR_REQUIRED = (
    "Name",
    "Description",
    "Author",
    "SpdxLicenseId",
    "LicenseUrl",
    "ReadmeUrl",
    "Labels",
    "HomePageUrl",
    "SemanticVersion",
    "SourceCodeUrl",
)
# Limits of the Serverless Application Repository's CreateApplication API.
_SAR_NAME = re.compile(r"^[a-zA-Z0-9\-]{1,140}$")
_SAR_AUTHOR = re.compile(r"^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$")
_SAR_LABEL = re.compile(r"^[a-zA-Z0-9+\-_:/@]{1,127}$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_PUBLIC_URL = re.compile(r"^https://[^\s/]+\.[^\s/]+(/\S*)?$")


# --------------------------------------------------------------------------------------- SAR
def project_version(root: Path = ROOT) -> str:
    """The version in pyproject.toml (what the SAR SemanticVersion must equal)."""
    with (root / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def sar_problems(template: Mapping[str, Any], template_dir: Path, version: str) -> list[str]:
    """What keeps ``sam package``/``sam publish`` from taking the SAR metadata (empty: ready).

    LicenseUrl and ReadmeUrl are local files relative to the template (``sam package`` uploads
    them); SemanticVersion must equal ``version`` (pyproject.toml)."""
    app = (template.get("Metadata") or {}).get(SAR_KEY)
    if not isinstance(app, Mapping):
        return [f"no Metadata: {SAR_KEY}"]
    problems = [f"{key} missing" for key in SAR_REQUIRED if not app.get(key)]
    name, author = str(app.get("Name") or ""), str(app.get("Author") or "")
    if name and not _SAR_NAME.match(name):
        problems.append(f"Name {name!r}: letters, digits and '-' only, at most 140")
    if author and not _SAR_AUTHOR.match(author):
        problems.append(f"Author {author!r}: lower-case letters, digits and single '-' inside")
    description = " ".join(str(app.get("Description") or "").split())
    if len(description) > 256:
        problems.append(f"Description is {len(description)} characters: at most 256")
    labels = app.get("Labels") or []
    if len(labels) > 10:
        problems.append(f"{len(labels)} Labels: at most 10")
    problems += [
        f"Label {label!r}: letters, digits and +-_:/@ only"
        for label in labels
        if not _SAR_LABEL.match(str(label))
    ]
    for key in ("HomePageUrl", "SourceCodeUrl"):
        if app.get(key) and not _PUBLIC_URL.match(str(app[key])):
            problems.append(f"{key} {app[key]!r} is not an https:// URL")
    for key in ("LicenseUrl", "ReadmeUrl"):
        if app.get(key) and not (template_dir / str(app[key])).is_file():
            problems.append(f"{key} {app[key]!r}: no such file next to the template")
    semver = str(app.get("SemanticVersion") or "")
    if semver and not _SEMVER.match(semver):
        problems.append(f"SemanticVersion {semver!r} is not MAJOR.MINOR.PATCH")
    elif semver and semver != version:
        problems.append(f"SemanticVersion {semver} differs from pyproject.toml's version {version}")
    return problems


LOCAL_BUCKET = "uptime-relay-package-local"  # the stand-in bucket of package_locally
_LOCAL_PATHS = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Lambda::Function": ("Code",),
    "AWS::Lambda::LayerVersion": ("Content",),
}


def unpackaged(packaged: Mapping[str, Any]) -> list[str]:
    """Local paths left in a packaged template (empty: every artifact went to S3)."""
    left = []
    app = (packaged.get("Metadata") or {}).get(SAR_KEY) or {}
    left += [
        f"{SAR_KEY}.{key}: {app[key]}"
        for key in ("LicenseUrl", "ReadmeUrl")
        if key in app and not str(app[key]).startswith("s3://")
    ]
    for lid, res in (packaged.get("Resources") or {}).items():
        for key in _LOCAL_PATHS.get(res.get("Type", ""), ()):
            value = (res.get("Properties") or {}).get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                left.append(f"{lid}.{key}: {value}")
    return left


def package_locally(template: Path, output: Path, sam: str = "sam", region: str = "us-east-1") -> list[str]:
    """``sam package`` into a moto S3 started here; what went wrong (empty: OUT is written and
    every artifact is in S3)."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not one line per upload
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        boto3.client("s3", region_name=region, endpoint_url=endpoint, **creds).create_bucket(
            Bucket=LOCAL_BUCKET
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL_S3=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=region,
            SAM_CLI_TELEMETRY="0",
        )
        cmd = [sam, "package", "--template-file", str(template), "--s3-bucket", LOCAL_BUCKET]
        cmd += ["--output-template-file", str(output), "--region", region]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        server.stop()
    if proc.returncode != 0:
        return [
            f"sam package failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-1500:]}"
        ]
    return unpackaged(load_template(output))


# --------------------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class Resource:
    type: str
    logical_id: str
    condition: str | None = None


def resources(translated: Mapping[str, Any]) -> list[Resource]:
    """The resources of the translated template, by type then logical id."""
    found = [
        Resource(res["Type"], lid, res.get("Condition"))
        for lid, res in (translated.get("Resources") or {}).items()
    ]
    return sorted(found, key=lambda r: (r.type, r.logical_id))


@dataclass
class RoleGrants:
    function: str
    role: str
    managed: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    any_resource: set[str] = field(default_factory=set)  # actions granted on Resource "*"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_grants(translated: Mapping[str, Any]) -> list[RoleGrants]:
    """Per function (logical id order): its role, the managed policies it attaches (by name) and
    every action its inline policies allow."""
    res = translated.get("Resources") or {}
    grants = []
    for lid in sorted(res):
        if res[lid]["Type"] != "AWS::Lambda::Function":
            continue
        role_ref = (res[lid].get("Properties") or {}).get("Role")
        if not (isinstance(role_ref, Mapping) and "Fn::GetAtt" in role_ref):
            continue
        role_id = role_ref["Fn::GetAtt"][0]
        props = res[role_id].get("Properties") or {}
        grant = RoleGrants(
            lid, role_id, managed=[str(a).rsplit("/", 1)[-1] for a in props.get("ManagedPolicyArns") or []]
        )
        actions: set[str] = set()
        for policy in props.get("Policies") or []:
            if isinstance(policy, Mapping) and "Fn::If" in policy:  # a home-stack-only policy:
                policy = policy["Fn::If"][1]  # this check describes the home stack
            if not isinstance(policy, Mapping) or "PolicyDocument" not in policy:
                continue
            for statement in _as_list(policy["PolicyDocument"].get("Statement") or []):
                if statement.get("Effect") != "Allow":
                    continue
                granted = {str(a) for a in _as_list(statement.get("Action") or [])}
                actions |= granted
                if "*" in _as_list(statement.get("Resource")):
                    grant.any_resource |= granted
        grant.actions = sorted(actions)
        grants.append(grant)
    return grants


def _check_alarm_count(config_path: str | None) -> int | None:
    if not config_path:
        return None
    from uptime_relay.config.loader import load_config

    return len(load_config(config_path).checks)


# --------------------------------------------------------------------------------------- report
def summary(
    built_template: str | Path, config_path: str | None = None, probe_memory_mb: int | None = None
) -> str:
    """The report ``make deploy-check`` prints (Markdown-ish plain text)."""
    built = load_template(built_template)
    translated = translate_template(built_template)
    lines = [f"What `sam deploy` would create from {built_template}", ""]
    found = resources(translated)
    lines.append(f"Resources ({len(found)}):")
    width = max(len(r.type) for r in found)
    for r in found:
        note = f"  (only if {r.condition})" if r.condition else ""
        lines.append(f"  {r.type:<{width}}  {r.logical_id}{note}")
    checks = _check_alarm_count(config_path)
    if checks is not None:
        lines.append(
            f"  + {checks} CloudWatch alarm(s), one per check of {config_path}, made by CheckAlarms during the deploy"
        )
    lines += ["", "IAM actions per function role:"]
    for g in role_grants(translated):
        lines.append(f"  {g.function} ({g.role}): managed {', '.join(g.managed) or 'none'}")
        for chunk in _wrap([f"{a} (any resource)" if a in g.any_resource else a for a in g.actions], 96):
            lines.append(f"    {chunk}")
    if config_path:
        lines += ["", *_cost_lines(built, config_path, probe_memory_mb)]
    return "\n".join(lines)


def _wrap(items: Sequence[str], width: int) -> Iterable[str]:
    line = ""
    for item in items:
        candidate = f"{line}, {item}" if line else item
        if line and len(candidate) > width:
            yield line + ","
            line = item
        else:
            line = candidate
    if line:
        yield line


def _cost_lines(built: Mapping[str, Any], config_path: str, probe_memory_mb: int | None) -> list[str]:
    from uptime_relay.config.loader import load_config

    from . import cost

    config = load_config(config_path)
    if probe_memory_mb is None:  # the template's default ProbeMemorySize
        probe_memory_mb = int((built.get("Parameters") or {}).get("ProbeMemorySize", {}).get("Default", 512))
    per_check, per_run = cost.measure_log_bytes(config.checks or None)
    usage = cost.usage_from_config(
        config, probe_memory_mb=probe_memory_mb, log_bytes_per_check=per_check, log_bytes_per_run=per_run
    )
    est = cost.estimate(usage)
    return [
        f"Estimated monthly cost for {config_path} ({usage.checks} checks, probe {probe_memory_mb} MB; "
        "us-east-1 list prices before free tiers; `uptime-relay cost` for more):",
        "",
        cost.estimate_markdown(est),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m uptime_relay_tools.deploycheck", description=__doc__.split("\n")[0]
    )
    parser.add_argument("template", help="the built template (.aws-sam/build/template.yaml)")
    parser.add_argument("--config", help="configuration to price and count alarms for (config/uptime.yaml)")
    parser.add_argument("--probe-memory", type=int, help="ProbeMemorySize to price (default: the template's)")
    parser.add_argument("--sar-only", action="store_true", help="only check the SAR metadata")
    parser.add_argument(
        "--package-local", metavar="OUT", help="check the SAR metadata, then sam package into a local moto S3"
    )
    parser.add_argument("--sam", default="sam", help="the sam executable (for --package-local)")
    args = parser.parse_args(argv)
    path = Path(args.template)
    problems = sar_problems(load_template(path), path.parent, project_version())
    for problem in problems:
        print(f"{path}: {SAR_KEY}: {problem}", file=sys.stderr)
    if args.sar_only or args.package_local:
        if problems:
            return 1
        print(f"{path}: {SAR_KEY} metadata ok (version {project_version()})")
        if args.package_local:
            left = package_locally(path, Path(args.package_local), sam=args.sam)
            for problem in left:
                print(f"sam package: {problem}", file=sys.stderr)
            if left:
                return 1
            print(
                f"{args.package_local}: packaged into a local stand-in bucket (s3://{LOCAL_BUCKET}: not publishable)"
            )
        return 0
    print(summary(path, args.config, args.probe_memory))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
