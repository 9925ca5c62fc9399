"""uptime-relay heartbeat-url NAME [--config CONFIG] [--stack NAME | --endpoint-url URL]

Prints the URL a heartbeat check's job calls, ``{actions url}/ping/{check}/{token}`` (add ``/fail``
or ``/start`` for those pings). The actions URL is the stack's ``ActionsUrl`` output
(the local stack's HTTP port for ``uptime-relay local``); the token is the check's ``token``,
resolved as the actions function resolves it (``--endpoint-url``: against that endpoint's SSM
and Secrets Manager). The URL holds the token: treat it as a secret.
"""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import quote

from uptime_relay.adapters.secrets import SecretResolver
from uptime_relay.config import ConfigError
from uptime_relay.config.loader import default_config_path, load_config

from .incidents import UsageError, aws_client, is_local_endpoint, stack_output

LOCAL_STACK = "uptime-relay-local"


def register(sub) -> None:
    p = sub.add_parser(
        "heartbeat-url",
        help="print the URL a heartbeat check's job pings (it holds the token: keep it secret)",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("name", metavar="NAME", help="the heartbeat check")
    p.add_argument(
        "--config",
        metavar="CONFIG",
        help="configuration file (default: $UPTIME_CONFIG, else /opt/uptime.yaml)",
    )
    p.add_argument(
        "--stack", metavar="NAME", help="the stack whose ActionsUrl output to use (default: $UPTIME_STACK)"
    )
    p.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint, e.g. the local stack's moto server (its stack defaults to uptime-relay-local)",
    )
    p.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        print(heartbeat_url(args))
    except (UsageError, ConfigError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def heartbeat_url(args: argparse.Namespace) -> str:
    config = load_config(args.config or str(default_config_path()))
    check = config.check(args.name)
    if check is None or check.heartbeat is None or not check.token:
        beats = sorted(c.name for c in config.checks if c.heartbeat is not None)
        raise UsageError(
            f"{config.source}: no heartbeat check named {args.name!r} "
            f"(heartbeat checks: {', '.join(beats) or 'none'})"
        )
    stack = args.stack or os.environ.get("UPTIME_STACK")
    if not stack and args.endpoint_url and is_local_endpoint(args.endpoint_url):
        stack = LOCAL_STACK
    if not stack:
        raise UsageError(
            "name the stack: --stack NAME (or $UPTIME_STACK), or --endpoint-url for the local stack"
        )
    base = stack_output(args, stack, "ActionsUrl")
    if not base:
        raise UsageError(f"stack {stack} has no ActionsUrl output")
    if args.endpoint_url:
        secrets = SecretResolver(
            ssm_client=aws_client("ssm", args), secrets_client=aws_client("secretsmanager", args)
        )
    else:
        secrets = SecretResolver()
    try:
        token = secrets.resolve(check.token)
    except Exception as exc:  # SecretError names the reference, never a value
        raise UsageError(f"{check.name}: its token could not be resolved: {exc}") from None
    return f"{base.rstrip('/')}/ping/{quote(check.name, safe='')}/{quote(token, safe='')}"
