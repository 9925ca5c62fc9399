"""uptime-relay local [--config CONFIG] [--minutes N] [--minute-seconds S] [--http-port P] [--demo]"""

from __future__ import annotations

import argparse
import sys

DEFAULT_MINUTE_SECONDS = 2.0
DEFAULT_HTTP_PORT = 8787


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of minutes (1 or more), got {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 0-65535 (0: any free port), got {text!r}")
    return int(text)


def register(sub) -> None:
    p = sub.add_parser(
        "local",
        help="run the whole stack on this machine (moto, simulated minutes); --demo plays a scripted outage",
        description=(
            "Run probe, alarms, relay, escalation and actions locally: AWS APIs are served by an "
            "embedded moto server on 127.0.0.1 holding the resources of template.yaml; alarms are "
            "evaluated locally and their SNS messages reach the relay; channels without a real "
            "destination print to the console. Time is simulated: --minute-seconds 2 makes each "
            "minute last two real seconds."
        ),
    )
    p.add_argument("--config", metavar="CONFIG", help="configuration file (default: the bundled demo config)")
    p.add_argument("--minutes", type=_minutes, help="simulated minutes to run (default: until interrupted)")
    p.add_argument(
        "--minute-seconds",
        type=_positive_float,
        metavar="S",
        help=f"real seconds per simulated minute (default {DEFAULT_MINUTE_SECONDS:g}; 0.5 with --demo)",
    )
    p.add_argument(
        "--http-port",
        type=_port,
        metavar="P",
        help=(
            "port of the actions routes: POST /slack/actions, GET+POST /ack/{token}, POST /pagerduty, "
            f"POST /alertmanager (default {DEFAULT_HTTP_PORT}; 0: any free port)"
        ),
    )
    p.add_argument("--demo", action="store_true", help="play the scripted outage and exit (make demo)")
    p.add_argument(
        "--fault",
        action="append",
        metavar="CHANNEL:STATUS:DURATION[@START]",
        help="make a channel (name or type) answer STATUS for a while, e.g. slack:429:3m, pagerduty:500:2m",
    )
    p.add_argument(
        "--duplicate-deliveries", action="store_true", help="SNS delivers every alarm notification twice"
    )
    p.add_argument("--out-of-order", action="store_true", help="SNS delivers notifications out of order")
    p.add_argument(
        "--console-channels", action="store_true", help="print every channel's messages instead of sending"
    )
    p.add_argument("--quiet-payloads", action="store_true", help="one line per message, without its text")
    p.add_argument("--verbose", action="store_true", help="also print the functions' JSON logs and metrics")
    p.set_defaults(func=run)


def _stop_on_sigterm() -> None:
    """``kill`` (SIGTERM) stops the local stack like Ctrl-C: cleanly, exit 0."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def run(args) -> int:
    from uptime_relay.config import ConfigError

    from ..local.faults import Faults, FaultSpecError
    from ..local.runner import LocalStackError

    try:
        faults = Faults.parse(
            args.fault, duplicate_deliveries=args.duplicate_deliveries, out_of_order=args.out_of_order
        )
    except FaultSpecError as exc:
        print(f"uptime-relay local: {exc}", file=sys.stderr)
        return 2
    port = args.http_port if args.http_port is not None else (0 if args.demo else DEFAULT_HTTP_PORT)
    _stop_on_sigterm()
    try:
        if args.demo or not args.config:
            return _demo(args, faults, port)
        return _run(args, faults, port)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (OSError, LocalStackError) as exc:
        print(f"uptime-relay local: {exc}", file=sys.stderr)
        return 1


def _demo(args, faults, port: int) -> int:
    from ..local import demo

    if args.config:
        print("uptime-relay local: --demo plays the bundled demo config; drop --config", file=sys.stderr)
        return 2
    if not args.demo:  # no config: the demo's config and target, without its script, until stopped
        return _run(args, faults, port, demo_setup=True)
    return demo.run_demo(
        minute_seconds=args.minute_seconds or demo.DEMO_MINUTE_SECONDS,
        minutes=args.minutes or demo.DEMO_MINUTES,
        http_port=port,
        faults=faults,
        console=args.console_channels,
        verbose=args.verbose,
        show_payloads=not args.quiet_payloads,
    )


def _run(args, faults, port: int, *, demo_setup: bool = False) -> int:
    import tempfile
    from pathlib import Path

    from ..local.runner import LocalStack

    minute_seconds = args.minute_seconds or DEFAULT_MINUTE_SECONDS
    with tempfile.TemporaryDirectory(prefix="uptime-local-") as tmp:
        target = None
        config_path = args.config
        if demo_setup:
            from ..local import demo
            from ..local.demo_target import DemoTarget

            target = DemoTarget().start()
            config_path = demo.write_demo_config(target.url, Path(tmp))
        try:
            stack = LocalStack(
                config_path,
                minute_seconds=minute_seconds,
                minutes=args.minutes,
                http_port=port,
                faults=faults,
                console=args.console_channels,
                verbose=args.verbose,
                show_payloads=not args.quiet_payloads,
            )
            if target is not None:
                target.attach(stack.clock)
                stack.say(f"demo target {target.url}/health (healthy; no scripted outage without --demo)")
            with stack:
                try:
                    stack.run()
                except KeyboardInterrupt:
                    stack.say("interrupted: stopping")
            return 0
        finally:
            if target is not None:
                target.stop()
