"""uptime-relay validate CONFIG"""

from __future__ import annotations

import sys

from uptime_relay.config import ConfigError
from uptime_relay.config.loader import load_config


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a configuration file; exit 2 listing every error")
    p.add_argument("config", metavar="CONFIG", help="path to the YAML configuration")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(
        f"{args.config}: ok ({len(config.checks)} checks, {len(config.channels)} channels, "
        f"{len(config.routes)} routes, {len(config.escalation_policies)} escalation policies)"
    )
    return 0
