"""Channels in the local stack: the real notifiers, wrapped to show deliveries on the timeline,
inject faults, and print to the console when a channel has no real destination.

A channel has no real destination when its URL is a documentation placeholder (``example.com``,
``.example``, ``.invalid``, ``.test``), when it is an email channel without ``smtp`` whose
recipients are placeholders (SES is not reachable locally), or when ``--console-channels`` says so.
Such channels get the exact payloads the notifier would send, rendered readably on the console.

The wrapper is installed by replacing ``notifiers.registry.make_notifiers`` for the run (and the
name in every module that imported it), so the handlers build their dispatchers as in Lambda.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from uptime_relay import clock
from uptime_relay.config import Channel, Config, is_secret_ref
from uptime_relay.notifiers.base import Delivery, DeliveryError, Notification, Notifier

from .faults import RETRY_AFTER_S, Faults

PLACEHOLDER_SUFFIXES = (".example", ".invalid", ".test", ".example.com", ".example.org", ".example.net")
PLACEHOLDER_HOSTS = ("example.com", "example.org", "example.net")
Say = Callable[..., None]  # say(text, raw=False)


def placeholder_host(host: str | None) -> bool:
    host = (host or "").lower().rstrip(".")
    return host in PLACEHOLDER_HOSTS or host.endswith(PLACEHOLDER_SUFFIXES)


def _url_host(value: Any) -> str | None:
    if not isinstance(value, str) or is_secret_ref(value):
        return None
    return urlsplit(value).hostname


def has_real_destination(channel: Channel) -> bool:
    """False when sending would only reach a documentation placeholder."""
    if channel.type == "slack":
        url = channel.get("webhook_url") or channel.get("api_url")
        return not placeholder_host(_url_host(url))
    if channel.type == "pagerduty":
        return not placeholder_host(_url_host(channel.get("events_url")))
    if channel.type in ("webhook", "teams"):
        return not placeholder_host(_url_host(channel.get("url") or channel.get("webhook_url")))
    if channel.type == "opsgenie":
        return not placeholder_host(_url_host(channel.get("api_url")))
    if channel.type == "email":
        if channel.get("smtp"):
            return True
        recipients = channel.get("to") or ()
        if isinstance(recipients, str):
            recipients = (recipients,)
        return not all(placeholder_host(str(r).rpartition("@")[2]) for r in recipients)
    return True


def console_channels(config: Config, *, everything: bool = False) -> set[str]:
    return {name for name, ch in config.channels.items() if everything or not has_real_destination(ch)}


SECRET_OPTIONS = {
    "slack": ("webhook_url", "bot_token"),
    "pagerduty": ("routing_key",),
    "email": (),
    "webhook": ("url", "secret"),
    "teams": ("webhook_url",),
    "opsgenie": ("api_key",),
    "sms": (),
}


def unresolvable_secrets(config: Config, resolver: Any) -> dict[str, str]:
    """Channels whose credentials cannot be resolved here: {channel: why}. Sending would only fail,
    so the local stack prints their messages instead (say how to provide the secret locally)."""
    missing: dict[str, str] = {}
    for name, channel in config.channels.items():
        refs = [channel.get(key) for key in SECRET_OPTIONS.get(channel.type, ())]
        smtp = channel.get("smtp") or {}
        if channel.type == "email" and isinstance(smtp, dict):
            refs.append(smtp.get("password"))
        if channel.type == "webhook":
            refs.extend((channel.get("headers") or {}).values())
        for ref in refs:
            if isinstance(ref, str) and is_secret_ref(ref):
                try:
                    resolver.resolve(ref)
                except Exception:
                    missing[name] = f"secret {ref} is not available locally"
                    break
    return missing


# --------------------------------------------------------------------------------------- rendering
def _indent(text: str, width: int = 100) -> str:
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines += textwrap.wrap(line, width, replace_whitespace=False) or [""]
    return "\n".join("      │ " + line for line in lines)


def _slack_text(payload: dict[str, Any]) -> str:
    parts: list[str] = []
    for block in payload.get("blocks") or []:
        kind = block.get("type")
        if kind in ("header", "section") and isinstance(block.get("text"), dict):
            parts.append(block["text"].get("text", ""))
        for field in block.get("fields") or []:
            parts.append(field.get("text", ""))
        if kind == "context":
            parts += [e.get("text", "") for e in block.get("elements") or [] if isinstance(e, dict)]
        if kind == "actions":
            buttons = [
                f"[{(e.get('text') or {}).get('text', e.get('action_id'))}]"
                for e in block.get("elements") or []
                if isinstance(e, dict)
            ]
            parts.append(" ".join(buttons))
    text = "\n".join(p for p in parts if p) or str(payload.get("text", ""))
    text = re.sub(r"<([^|<>]+)\|([^<>]+)>", r"\2 (\1)", text)  # Slack links <url|text>
    return html.unescape(text)


def render_payload(channel: Channel, payload: dict[str, Any]) -> str:
    """A readable rendering of one payload for the console."""
    if channel.type == "slack":
        return _slack_text(payload)
    if channel.type == "pagerduty":
        inner = payload.get("payload") or {}
        head = f"{payload.get('event_action')} dedup_key={payload.get('dedup_key')}"
        if inner:
            head += f" severity={inner.get('severity')}\n{inner.get('summary', '')}"
        for link in payload.get("links") or []:
            head += f"\n{link.get('text', '')}: {link.get('href', '')}"
        return head
    if channel.type == "email":
        to = ", ".join(payload.get("to") or [])
        return f"To: {to}\nSubject: {payload.get('subject', '')}\n\n{payload.get('text', '').strip()}"
    if channel.type == "sms":
        return f"To: {payload.get('PhoneNumber')}\n{payload.get('Message', '')}"
    if channel.type == "opsgenie":
        if "message" in payload:
            return f"create {payload.get('priority')} alias={payload.get('alias')}\n{payload.get('message')}"
        return f"{payload.get('note', '')}"
    if channel.type == "webhook":
        incident = payload.get("incident") or {}
        return f"{payload.get('status')} {incident.get('title', '')}\n{incident.get('summary', '')}"
    if channel.type == "teams":
        return _card_text(payload)
    return json.dumps(payload, indent=2, default=str)


def _card_text(payload: dict[str, Any]) -> str:
    """The texts and facts of a Teams Adaptive Card, one per line."""
    lines: list[str] = []

    def walk(items: Any) -> None:
        for item in items or []:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "TextBlock":
                lines.append(str(item.get("text", "")))
            for fact in item.get("facts") or []:
                lines.append(f"{fact.get('title')}: {fact.get('value')}")
            walk(item.get("items"))

    for attachment in payload.get("attachments") or []:
        card = attachment.get("content") or {}
        walk(card.get("body"))
        buttons = [f"[{a.get('title')}]" for a in card.get("actions") or [] if isinstance(a, dict)]
        if buttons:
            lines.append(" ".join(buttons))
    return re.sub(r"\\([\\*_\[\]`~#<>])", r"\1", "\n".join(lines))


# --------------------------------------------------------------------------------------- wrapper
class LocalNotifier:
    """Wraps one real notifier: console rendering, injected faults, and timeline lines."""

    def __init__(
        self,
        inner: Notifier,
        *,
        console: set[str],
        faults: Faults,
        say: Say,
        run_start: datetime,
        show_payloads: bool = True,
    ):
        self._inner = inner
        self.type = inner.type
        self.groups_alerts = inner.groups_alerts
        self._console = console
        self._faults = faults
        self._say = say
        self._run_start = run_start
        self._show = show_payloads

    def build_payloads(self, channel: Channel, notification: Notification) -> list[dict[str, Any]]:
        return self._inner.build_payloads(channel, notification)

    def send(self, channel: Channel, notification: Notification, secrets: Any) -> Delivery:
        kind = getattr(notification.kind, "value", notification.kind)
        fault = self._faults.active(channel.name, channel.type, clock.now(), self._run_start)
        if fault is not None:
            self._say(f"{channel.name} {kind} answered {fault.status} (injected fault)")
            raise DeliveryError(
                f"injected fault: HTTP {fault.status}",
                permanent=not fault.transient,
                retry_after=RETRY_AFTER_S if fault.status == 429 else None,
                status=fault.status,
            )
        if channel.name in self._console:
            payloads = self._inner.build_payloads(channel, notification)
            if not payloads:
                return Delivery(channel.name, {}, None)
            self._say(f"{channel.name} {kind} (printed here, not sent)")
            if self._show:
                for payload in payloads:
                    self._say(_indent(render_payload(channel, payload)), raw=True)
            return Delivery(channel.name, {}, 200)
        try:
            delivery = self._inner.send(channel, notification, secrets)
        except DeliveryError as exc:
            status = f" {exc.status}" if exc.status else ""
            retry = " (transient)" if not exc.permanent else " (permanent)"
            self._say(f"{channel.name} {kind} failed{status}: {exc}{retry}")
            raise
        self._say(f"{channel.name} {kind} delivered")
        return delivery


@contextlib.contextmanager
def wrapped_notifiers(wrap: Callable[[Any], Any]) -> Iterator[None]:
    """Make ``notifiers.registry.make_notifiers`` return wrapped notifiers for the duration."""
    from uptime_relay.notifiers import registry

    original = registry.make_notifiers

    def make_notifiers(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {kind: wrap(n) for kind, n in original(*args, **kwargs).items()}

    patched: list[tuple[Any, str]] = []
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if value is original:
                setattr(module, name, make_notifiers)
                patched.append((module, name))
    try:
        yield
    finally:
        for module, name in patched:
            setattr(module, name, original)
        for module in list(sys.modules.values()):  # modules first imported during the run
            for name, value in list(getattr(module, "__dict__", {}).items()):
                if value is make_notifiers:
                    setattr(module, name, original)
