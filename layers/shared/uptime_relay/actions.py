"""Acknowledge and resolve from outside: one small HTTP router for the actions Function URL and the
local stack's HTTP port.

Routes (anything else 404, a known path with another method 405):
- ``POST /slack/actions``  Slack interactivity (buttons ``ack`` / ``resolve``, value = incident id).
  Signature checked against the REAL clock (CONTRACT edge rule, also under simulated minutes); the
  store write is inline and the message is updated through ``response_url`` (2 s timeout), so Slack
  gets its answer well within its 3 s limit.
- ``GET /ack/{token}``     signed acknowledge links from emails; single use (``ACKTOKEN#<jti>``).
- ``POST /pagerduty``      PagerDuty webhooks v3: ``incident.acknowledged`` / ``incident.resolved``
  acknowledge / resolve our incident whose PagerDuty handle carries the same dedup key.
- ``POST /alertmanager``   Alertmanager webhook v4 intake, handed to the relay (unparseable bodies go
  on as a fallback alert: nothing is dropped).

Every refusal is logged with its reason, never with a secret, signature or token.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from . import clock as clockmod
from .adapters.ack_tokens import InMemoryUsedTokens, UsedTokens
from .security import (
    Expired,
    Unauthorized,
    verify_ack_token,
    verify_pagerduty_signature,
    verify_slack_signature,
)

logger = logging.getLogger(__name__)

PAGERDUTY_SECRET_ENV = "PAGERDUTY_WEBHOOK_SECRET_REF"  # one or more references, comma-separated
ACK_SECRET_ENV = "ACK_SECRET_REF"
ALERTMANAGER_TOKEN_ENV = "ALERTMANAGER_TOKEN_REF"  # optional bearer token for /alertmanager
RESPONSE_URL_TIMEOUT_S = 2.0
OPEN_STATUSES = ("open", "acknowledged")

ACK = "ack"
RESOLVE = "resolve"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class Outcome:
    """What an ack/resolve attempt did. ``reason`` when nothing changed: not_found,
    already_acknowledged, already_resolved."""

    changed: bool
    incident: Any = None
    reason: str | None = None

    def message(self, kind: str) -> str:
        inc = self.incident
        name = _incident_name(inc) if inc is not None else None
        if self.changed:
            verb = "Acknowledged" if kind == ACK else "Resolved"
            return f"{verb}: {name}"
        if self.reason == "not_found":
            return "That incident is not known (it may have been cleaned up)."
        if self.reason == "already_resolved":
            who = getattr(inc, "resolved_by", None)
            return f"{name} is already resolved" + (f" (by {who})." if who else ".")
        who = getattr(inc, "acknowledged_by", None)
        return f"{name} is already acknowledged" + (f" by {who}." if who else ".")


def _incident_name(incident: Any) -> str:
    return str(getattr(incident, "name", None) or getattr(incident, "check", None) or incident.id)


def _json(status: int, obj: Any) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(obj))


def _text(status: int, text: str) -> Response:
    return Response(status, {"Content-Type": "text/plain; charset=utf-8"}, text)


def _lower(headers: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


class Actions:
    """The router. ``store`` is an ``IncidentStore``; ``secrets`` resolves secret references.

    ``clock`` is the (possibly simulated) clock for incident times and ack-link expiry; ``real_clock``
    the wall clock used only for Slack's replay window. ``on_alerts(alerts)`` takes parsed
    Alertmanager alerts (default: ``relay.handle(alerts, now)``). ``on_change(kind, incident, by,
    via)`` is called after a successful ack/resolve (e.g. to update other channels)."""

    def __init__(
        self,
        config: Any,
        store: Any,
        *,
        secrets: Any,
        relay: Any = None,
        on_alerts: Callable[[list[Any]], Any] | None = None,
        parse_event: Callable[[Any], list[Any]] | None = None,
        used_tokens: UsedTokens | None = None,
        clock: Any = None,
        real_clock: Any = None,
        slack_client: Any = None,
        ack_secret_ref: str | None = None,
        pagerduty_secret_refs: Iterable[str] | None = None,
        alertmanager_token_ref: str | None = None,
        on_change: Callable[[str, Any, str, str], Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ):
        env = os.environ if environ is None else environ
        self.config = config
        self.store = store
        self.secrets = secrets
        self.relay = relay
        self._on_alerts = on_alerts
        self._parse_event = parse_event
        self.used_tokens = used_tokens if used_tokens is not None else InMemoryUsedTokens()
        self._clock = clock
        self._real_clock = real_clock or clockmod.SystemClock()
        self._slack_client = slack_client
        self.ack_secret_ref = ack_secret_ref if ack_secret_ref is not None else env.get(ACK_SECRET_ENV)
        if pagerduty_secret_refs is None:
            pagerduty_secret_refs = _pagerduty_refs(config, env.get(PAGERDUTY_SECRET_ENV, ""))
        self.pagerduty_secret_refs = tuple(pagerduty_secret_refs)
        self.alertmanager_token_ref = (
            alertmanager_token_ref if alertmanager_token_ref is not None else env.get(ALERTMANAGER_TOKEN_ENV)
        )
        self.on_change = on_change

    # ------------------------------------------------------------------------------ routing
    def handle(
        self, method: str, path: str, headers: Mapping[str, Any] | None, body: bytes | str
    ) -> Response:
        method = (method or "").upper()
        path = (path or "/").split("?", 1)[0]
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = body or b""
        headers = _lower(headers)
        if path.startswith("/ack/"):
            route, allowed = self._ack_link, ("GET",)
        else:
            route, allowed = {
                "/slack/actions": (self._slack, ("POST",)),
                "/pagerduty": (self._pagerduty, ("POST",)),
                "/alertmanager": (self._alertmanager, ("POST",)),
            }.get(path.rstrip("/") or "/", (None, ()))
        if route is None:
            return _text(404, "not found")
        if method not in allowed:
            return Response(
                405, {"Allow": ", ".join(allowed), "Content-Type": "text/plain"}, "method not allowed"
            )
        try:
            return route(path, headers, body)
        except Unauthorized as exc:
            self._refuse(method, path, exc.reason)
            if path.startswith("/ack/"):
                return _page(
                    exc.status, "Link not accepted", _ACK_REFUSALS.get(type(exc), _ACK_REFUSALS[Unauthorized])
                )
            return _text(exc.status, "unauthorized" if exc.status == 401 else "forbidden")

    def _refuse(self, method: str, path: str, reason: str) -> None:
        shown = "/ack/<token>" if path.startswith("/ack/") else path
        logger.warning("refused %s %s: %s", method, shown, reason, extra={"refused": reason, "route": shown})

    def now(self) -> datetime:
        return self._clock.now() if self._clock is not None else clockmod.now()

    # ------------------------------------------------------------------------------ state changes
    def apply(self, kind: str, incident_id: str, *, by: str, via: str, at: datetime) -> Outcome:
        """Acknowledge or resolve one incident (``apply_action``), then ``on_change``."""
        outcome = apply_action(self.store, kind, incident_id, by=by, via=via, at=at)
        if outcome.changed and self.on_change is not None:
            try:
                self.on_change(kind, outcome.incident, by, via)
            except Exception:  # the state change stands; a follow-up failure must not undo the answer
                logger.exception("follow-up after %s of %s failed", kind, incident_id)
        return outcome

    # ------------------------------------------------------------------------------ Slack
    def _slack(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        secret_ref = getattr(getattr(self.config, "slack", None), "signing_secret", None)
        secret = self._resolve(secret_ref, "slack.signing_secret") if secret_ref else None
        verify_slack_signature(
            secret,
            headers.get("x-slack-request-timestamp"),
            body,
            headers.get("x-slack-signature"),
            now_epoch=self._real_clock.now().timestamp(),
        )
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            payload = json.loads(form["payload"][0])
            if not isinstance(payload, dict):
                raise ValueError("payload is not an object")
        except (KeyError, IndexError, ValueError, UnicodeDecodeError) as exc:
            logger.warning("slack action: unreadable payload (%s)", type(exc).__name__)
            return _text(400, "expected a form field `payload` holding Slack's JSON")
        if payload.get("type") != "block_actions":
            return Response(200)
        action = next(
            (
                a
                for a in payload.get("actions") or []
                if isinstance(a, dict) and a.get("action_id") in (ACK, RESOLVE)
            ),
            None,
        )
        if action is None:
            return Response(200)
        kind, incident_id = action["action_id"], str(action.get("value") or "")
        user = payload.get("user") or {}
        user_id = str(user.get("id") or "")
        by = str(user.get("username") or user.get("name") or user_id or "someone in Slack")
        response_url = payload.get("response_url")
        at = self.now()
        outcome = (
            self.apply(kind, incident_id, by=by, via="slack", at=at)
            if incident_id
            else Outcome(False, None, "not_found")
        )
        if outcome.changed:
            if response_url:
                self._post_response_url(
                    response_url, _updated_message(payload.get("message"), kind, user_id or by, at, outcome)
                )
            return Response(200)
        ephemeral = {"response_type": "ephemeral", "replace_original": False, "text": outcome.message(kind)}
        if response_url:
            self._post_response_url(response_url, ephemeral)
        return _json(200, ephemeral)

    def _post_response_url(self, url: str, message: dict[str, Any]) -> None:
        try:
            client = self._slack_client
            if client is None:
                import requests

                client = self._slack_client = requests.Session()
            reply = client.post(url, json=message, timeout=RESPONSE_URL_TIMEOUT_S)
            status = getattr(reply, "status_code", 200)
            if status >= 400:
                logger.warning("slack response_url answered %s", status)
        except Exception as exc:
            logger.warning("slack response_url post failed: %s", type(exc).__name__)

    # ------------------------------------------------------------------------------ ack links
    def _ack_link(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        if not self.ack_secret_ref:
            self._refuse("GET", path, "ack links are not configured (ACK_SECRET_REF unset)")
            return _page(503, "Acknowledge links are not configured", "Ask your administrator.")
        token = unquote(path[len("/ack/") :]).strip("/")
        now = self.now()
        claim = verify_ack_token(self._resolve(self.ack_secret_ref, ACK_SECRET_ENV), token, now)
        if not self.used_tokens.claim(claim.jti, claim.expires_at, incident_id=claim.incident_id):
            raise _Replayed("ack link already used")
        outcome = self.apply(ACK, claim.incident_id, by="email recipient", via="email link", at=now)
        if outcome.changed:
            return _page(
                200,
                "Acknowledged",
                f"{_incident_name(outcome.incident)} is acknowledged. Escalation has stopped.",
            )
        if outcome.reason == "not_found":
            return _page(404, "Unknown incident", outcome.message(ACK))
        return _page(200, "Nothing to do", outcome.message(ACK))

    # ------------------------------------------------------------------------------ PagerDuty
    def _pagerduty(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        secrets = []
        for ref in self.pagerduty_secret_refs:
            try:
                secrets.append(self.secrets.resolve(ref))
            except Exception as exc:
                logger.warning("PagerDuty webhook secret %s could not be read (%s)", ref, type(exc).__name__)
        verify_pagerduty_signature(secrets, body, headers.get("x-pagerduty-signature"))
        try:
            event = json.loads(body)["event"]
            event_type = event["event_type"]
        except (ValueError, KeyError, TypeError):
            return _text(400, 'expected a PagerDuty v3 webhook body: {"event": {"event_type": ...}}')
        kind = {"incident.acknowledged": ACK, "incident.resolved": RESOLVE}.get(event_type)
        if kind is None:
            return _json(200, {"result": "ignored", "event_type": event_type})
        data = event.get("data") or {}
        key = data.get("incident_key")
        agent = event.get("agent") or {}
        who = str(agent.get("summary") or agent.get("id") or "PagerDuty")
        incident = self._by_dedup_key(key) if key else None
        if incident is None:
            logger.info(
                "PagerDuty %s for %s: no open incident with that dedup key", event_type, data.get("id")
            )
            return _json(200, {"result": "no matching incident"})
        outcome = self.apply(kind, incident.id, by=who, via="pagerduty", at=self.now())
        return _json(
            200, {"result": "changed" if outcome.changed else outcome.reason, "incident": incident.id}
        )

    def _by_dedup_key(self, key: str) -> Any:
        """The open incident whose PagerDuty handle (or opening alert) carries ``key``."""
        try:
            from .notifiers.pagerduty import dedup_key as alert_dedup_key
        except ImportError:  # pragma: no cover - notifiers are part of the same package
            alert_dedup_key = None
        for incident in self.store.list(statuses=OPEN_STATUSES):
            for handle in (getattr(incident, "handles", None) or {}).values():
                if isinstance(handle, Mapping) and (
                    handle.get("dedup_key") == key or key in (handle.get("dedup_keys") or ())
                ):
                    return incident
            alert = getattr(incident, "alert", None)
            if alert is not None and alert_dedup_key is not None and alert_dedup_key(alert) == key:
                return incident
        return None

    # ------------------------------------------------------------------------------ Alertmanager
    def _alertmanager(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        if self.alertmanager_token_ref:
            expected = self._resolve(self.alertmanager_token_ref, ALERTMANAGER_TOKEN_ENV)
            offered = headers.get("authorization", "")
            if not hmac.compare_digest(f"Bearer {expected}".encode(), offered.encode("utf-8", "replace")):
                raise Unauthorized("missing or wrong Alertmanager bearer token")
        parse = self._parse_event
        if parse is None:
            from .intake import parse_event as parse
        alerts = parse(body)
        try:
            if self._on_alerts is not None:
                self._on_alerts(alerts)
            elif self.relay is not None:
                enrich = getattr(self.relay, "enrich", None)
                if enrich is not None:
                    alerts = [enrich(alert) for alert in alerts]
                results = self.relay.handle(alerts, self.now()) or []
                failed = [r for r in results if getattr(r, "action", None) == "error"]
                if failed:
                    logger.error("alertmanager webhook: %d alert(s) not recorded; answering 500", len(failed))
                    return _text(500, "relay failed")
            else:
                logger.error("alertmanager webhook received but no relay is wired in")
                return _text(503, "no relay configured")
        except Exception:
            logger.exception("alertmanager webhook: relay failed; answering 500 so Alertmanager retries")
            return _text(500, "relay failed")
        return _json(200, {"accepted": len(alerts)})

    # ------------------------------------------------------------------------------ helpers
    def _resolve(self, ref: str, what: str) -> str:
        try:
            return self.secrets.resolve(ref)
        except Exception as exc:
            raise Unauthorized(f"{what} could not be resolved ({type(exc).__name__})") from None


def apply_action(store: Any, kind: str, incident_id: str, *, by: str, via: str, at: datetime) -> Outcome:
    """Acknowledge (``kind="ack"``) or resolve one incident through the store's conditional writes.

    Shared by the actions router and ``uptime-relay incidents ack|resolve``. Nothing changes when
    the incident is unknown, already resolved, or (for an ack) already acknowledged; a lost race
    is reported the same way."""
    if kind not in (ACK, RESOLVE):
        raise ValueError(f"unknown action {kind!r}: expected {ACK!r} or {RESOLVE!r}")
    incident = store.get(incident_id)
    if incident is None:
        return Outcome(False, None, "not_found")
    blocked = _blocked(kind, incident.status)
    if blocked:
        return Outcome(False, incident, blocked)
    write = store.acknowledge if kind == ACK else store.resolve
    if not write(incident_id, by=by, via=via, at=at):
        incident = store.get(incident_id)  # someone else got there first: say what it is now
        if incident is None:
            return Outcome(False, None, "not_found")
        return Outcome(False, incident, _blocked(kind, incident.status) or "already_acknowledged")
    logger.info(
        "%s incident %s by %s via %s",
        "acknowledged" if kind == ACK else "resolved",
        incident_id,
        by,
        via,
        extra={"incident_id": incident_id, "action": kind, "via": via},
    )
    return Outcome(True, store.get(incident_id))


class ChangeNotifier:
    """An ``on_change`` for ``Actions``: tells the incident's other channels what a person did.

    After an acknowledgement: PagerDuty gets ``acknowledge`` (so it stops paging too) and Slack
    messages are updated (``chat.update`` with stored handles, else a short follow-up post); email
    channels get nothing (they page; an ack needs no mail). After a resolve: every channel that was
    notified gets the resolve. The channel the action came from is skipped (PagerDuty for its own
    webhook; Slack for a button, whose message ``response_url`` already replaced). Each send is one
    attempt (Slack waits at most 3 s for the answer): a failure is dead-lettered by the dispatcher,
    not lost, and recorded on the incident's timeline.
    """

    def __init__(self, config: Any, dispatcher: Any, store: Any = None):
        self.config = config
        self.dispatcher = dispatcher
        self.store = store

    def targets(self, kind: str, incident: Any, via: str) -> list[str]:
        names = []
        for name in incident.notified_channels():
            channel = self.config.channels.get(name)
            if channel is None:
                continue
            if (via == "pagerduty" and channel.type == "pagerduty") or (
                via == "slack" and channel.type == "slack"
            ):
                continue
            if kind == ACK and channel.type == "email":
                continue
            names.append(name)
        return names

    def __call__(self, kind: str, incident: Any, by: str, via: str) -> list[Any]:
        from .domain.incident import TimelineEntry
        from .notifiers.base import Notification, NotificationKind

        if incident is None or getattr(incident, "alert", None) is None:
            return []
        notification_kind = NotificationKind.ACKNOWLEDGE if kind == ACK else NotificationKind.RESOLVE
        at = (incident.acknowledged_at if kind == ACK else incident.resolved_at) or incident.last_state_time
        check = self.config.check(incident.check) if incident.check else None
        outcomes, entries = [], []
        for name in self.targets(kind, incident, via):
            notification = Notification(
                kind=notification_kind,
                alerts=(incident.alert,),
                incident_id=incident.id,
                opened_at=incident.opened_at,
                check=check,
                acknowledged_by=by,
                handles=dict(incident.handles.get(name, {})),
            )
            outcome = self.dispatcher.deliver(name, notification)
            outcomes.append(outcome)
            if outcome.ok:
                entries.append(TimelineEntry(at, "notified", f"{notification_kind.value} sent", name))
            else:
                entries.append(
                    TimelineEntry(at, "delivery_failed", f"{notification_kind.value}: {outcome.error}", name)
                )
        if entries and self.store is not None:
            try:
                self.store.record_outcomes(incident.id, entries, {})
            except Exception:
                logger.exception("follow-up outcomes for %s could not be recorded", incident.id)
        return outcomes


class _Replayed(Unauthorized):
    status = 403


_ACK_REFUSALS = {
    Unauthorized: "This acknowledge link is not valid. Use the newest notification, Slack or the CLI.",
    Expired: "This acknowledge link has expired. Use Slack or `uptime-relay incidents ack ID`.",
    _Replayed: "This acknowledge link was already used; nothing was changed.",
}


def _blocked(kind: str, status: str) -> str | None:
    if status == "resolved":
        return "already_resolved"
    if kind == ACK and status == "acknowledged":
        return "already_acknowledged"
    return None


def _pagerduty_refs(config: Any, env_value: str) -> list[str]:
    refs = [r.strip() for r in env_value.split(",") if r.strip()]
    for channel in (getattr(config, "channels", None) or {}).values():
        if getattr(channel, "type", None) == "pagerduty":
            ref = channel.get("webhook_secret")
            if ref and ref not in refs:
                refs.append(ref)
    return refs


def _updated_message(message: Any, kind: str, user: str, at: datetime, outcome: Outcome) -> dict[str, Any]:
    """The original Slack message with its buttons updated and a line saying who did what, when."""
    mention = f"<@{user}>" if user[:1] in ("U", "W") and user.isalnum() else user
    verb = "Acknowledged" if kind == ACK else "Resolved"
    line = f"{verb} by {mention} at {at.astimezone(UTC):%H:%M} UTC"
    original = message if isinstance(message, dict) else {}
    blocks: list[dict[str, Any]] = []
    resolve_buttons: list[dict[str, Any]] = []
    for block in original.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            resolve_buttons += [
                e
                for e in block.get("elements") or []
                if isinstance(e, dict) and e.get("action_id") == RESOLVE
            ]
            continue
        blocks.append(block)
    if kind == ACK:
        if not resolve_buttons and outcome.incident is not None:
            resolve_buttons = [
                {
                    "type": "button",
                    "action_id": RESOLVE,
                    "value": outcome.incident.id,
                    "text": {"type": "plain_text", "text": "Resolve"},
                }
            ]
        if resolve_buttons:
            blocks.append({"type": "actions", "elements": resolve_buttons})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    text = original.get("text") or (
        f"{_incident_name(outcome.incident)}: {line}" if outcome.incident else line
    )
    return {"replace_original": True, "text": text, "blocks": blocks}


def _page(status: int, title: str, text: str) -> Response:
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · uptime-relay</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:36em;margin:3em auto">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return Response(
        status,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
        body,
    )
