"""Which secret references the deployed stack can actually read.

The stack's roles may read SSM parameters below ``SecretsSsmPrefix`` and Secrets Manager secrets
whose name starts with ``SecretsManagerPrefix`` — nothing else. A reference outside them passes
``uptime-relay validate`` and then fails with AccessDenied at the first page that needs it, so
the ``Custom::CheckAlarms`` resource refuses such a config at deploy time (see
``custom_resource``), listing every offending reference.

``env:`` references are refused in the deployed stack too: the functions set no environment
variables the config could name, so such a reference can only fail at run time. They stay valid
for local runs (``uptime-relay local``, ``check``), which never run this check.

Pure: no AWS calls; the scope comes from the template's parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Config, is_secret_ref


@dataclass(frozen=True)
class SecretScope:
    """What the stack's IAM policies grant: ``ssm_prefix`` (e.g. ``/uptime/``) and
    ``secretsmanager_prefix`` (e.g. ``uptime/``); ``region``/``account`` of the stack, when known,
    for references given as full ARNs."""

    ssm_prefix: str
    secretsmanager_prefix: str
    region: str | None = None
    account: str | None = None

    def problem(self, ref: str) -> str | None:
        """Why the stack cannot read ``ref``, or None when it can (or it is no reference)."""
        if not is_secret_ref(ref):
            return None
        kind, _, name = ref.partition(":")
        if kind == "env":
            return "env: references resolve only in local runs (the deployed functions set no such variable)"
        if kind == "ssm":
            path = name if name.startswith("/") else "/" + name
            if not path.startswith(self.ssm_prefix):
                return f"not below SecretsSsmPrefix {self.ssm_prefix}"
            return None
        # secretsmanager: a name, or an ARN (arn:partition:secretsmanager:region:account:secret:name)
        secret = name
        if name.startswith("arn:"):
            parts = name.split(":", 6)
            if len(parts) < 7 or parts[2] != "secretsmanager" or parts[5] != "secret":
                return "not a Secrets Manager secret ARN"
            region, account, secret = parts[3], parts[4], parts[6]
            if self.region and region != self.region:
                return f"in Region {region}, the stack reads secrets in {self.region} only"
            if self.account and account != self.account:
                return f"in account {account}, the stack reads secrets in {self.account} only"
        if not secret.startswith(self.secretsmanager_prefix):
            return f"name does not start with SecretsManagerPrefix {self.secretsmanager_prefix}"
        return None


@dataclass(frozen=True)
class OutOfScope:
    where: str  # e.g. "channels.pd-primary.routing_key"
    ref: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.ref} ({self.why})"


def _walk(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if is_secret_ref(value):
            yield prefix, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(f"{prefix}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(f"{prefix}[{index}]", item)


def references(config: Config) -> list[tuple[str, str]]:
    """Every secret reference in ``config`` as (where, reference), in config order: channel
    options (webhook_url, bot_token, routing_key, webhook_secret, smtp.username/password, ...),
    check headers, heartbeat tokens and ``slack.signing_secret``."""
    found: list[tuple[str, str]] = []
    for check in config.checks:
        found.extend(_walk(f"checks[{check.name}].headers", dict(check.headers)))
        if check.token:
            found.extend(_walk(f"checks[{check.name}].token", check.token))
    for name, channel in config.channels.items():
        found.extend(_walk(f"channels.{name}", dict(channel.options)))
    signing = config.slack.signing_secret
    if signing:
        found.extend(_walk("slack.signing_secret", signing))
    return found


def out_of_scope(refs: Iterable[tuple[str, str]], scope: SecretScope) -> list[OutOfScope]:
    """The references the stack could not read, each with where it is and why."""
    return [OutOfScope(where, ref, why) for where, ref in refs if (why := scope.problem(ref))]


def refusal(offending: list[OutOfScope], scope: SecretScope) -> str:
    """The deploy's failure reason: every offending reference, then what is allowed."""
    listed = "; ".join(str(o) for o in offending)
    return (
        f"{len(offending)} secret reference(s) the stack cannot read: {listed}. "
        f"Allowed: ssm:{scope.ssm_prefix}... (SecretsSsmPrefix) and "
        f"secretsmanager:{scope.secretsmanager_prefix}... (SecretsManagerPrefix); "
        "move the secrets there or change those parameters"
    )
