"""Acknowledge and resolve from outside: one small HTTP router for the actions Function URL and the
local stack's HTTP port.

Routes (anything else 404, a known path with another method 405):
- ``POST /slack/actions``  Slack interactivity (buttons ``ack`` / ``resolve``, value = incident id,
  or a grouped message's incident ids joined by ","; the action applies to each of them).
  Signature checked against the REAL clock (CONTRACT edge rule, also under simulated minutes); the
  store write is inline and the message is updated through ``response_url`` (2 s timeout); the
  follow-ups to the other channels are handed off (``follow_up_runner``: in Lambda an asynchronous
  invocation of this function, elsewhere a background thread), so Slack gets its answer within 3 s.
- ``GET|HEAD /ack/{token}`` signed acknowledge links from emails: verify the link and show a
  confirmation page with an **Acknowledge** button; changes nothing (mail link scanners fetch links).
- ``POST /ack/{token}``    the button: uses the single-use token (``ACKTOKEN#<jti>``) and acknowledges
  (every incident of a grouped e-mail: ``acklinks.ack_link_subject``; as the mail's one recipient, if any).
- ``POST /pagerduty``      PagerDuty webhooks v3: ``incident.acknowledged`` / ``incident.resolved``
  acknowledge / resolve our incident whose PagerDuty handle carries the same dedup key. Each event
  applies once: its ``occurred_at`` must be within 5 minutes of the REAL clock (as Slack's
  timestamp) and its ``id`` is recorded with a conditional write (``PDEVENT#<id>``, kept until the
  window has passed). A stale or already seen event answers 200 and changes nothing: PagerDuty
  retries 5xx, 429 and timeouts (for up to 48 h), drops other 4xx, and disables a subscription for
  24 h after three dropped deliveries, so neither a retry nor a 4xx would help. When our store
  fails the record is released and the answer is 500: PagerDuty's retry, if still inside the
  window, applies the event.
- ``GET|POST /ping/{check}/{token}`` (``/fail``, ``/start``): a heartbeat check's job reports in
  (``pings.py``: token compared in constant time; a wrong one answers 404 and records nothing).
- ``POST /opsgenie``       Opsgenie outgoing webhooks: Acknowledge / Close of an alert we created
  acknowledge / resolve its incident (``opsgenie_webhook``; ``X-Uptime-Relay-Token`` header).
- ``POST /alertmanager``   Alertmanager webhook v4 intake, handed to the relay (unparseable bodies go
  on as a fallback alert: nothing is dropped). Requires ``Authorization: Bearer <token>`` matching
  the secret behind ``ALERTMANAGER_TOKEN_REF``; refused (401) when none is configured unless
  ``ALERTMANAGER_ALLOW_UNAUTHENTICATED=true`` (the local stack).
- ``GET|HEAD /status``, ``/status.json``, ``/badge/{check}.svg``, ``/badge/{check}/uptime-30d.svg``
  the public status page and badges (``statuspage``), from a cached snapshot; 404 without
  ``status_page`` in the config.

The signed routes (Slack, PagerDuty) check the payload's shape once, at their start
(``shapes``): a field of the wrong JSON type answers 400 naming it. Every answer carries the
browser protections of ``SECURITY_HEADERS`` (added in ``handle``, the one place answers leave).

Every refusal is logged with its reason, never with a secret, signature or token.
"""

from __future__ import annotations

import html
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from . import clock as clockmod
from . import opsgenie_webhook
from .acklinks import ack_link_incident_ids, button_incident_ids
from .adapters.ack_tokens import InMemoryUsedTokens
from .adapters.heartbeats import InMemoryHeartbeats
from .config import Config
from .domain.alert import Alert
from .domain.grouping import acknowledge as acknowledge_group
from .domain.grouping import key_of, resolve_member
from .domain.incident import Incident
from .followups import ACK, RESOLVE
from .intake import parse_event as default_parse_event
from .notifiers.pagerduty import dedup_key as alert_dedup_key
from .notifiers.pagerduty import key_for
from .paging.groups import member_resolved
from .pings import METHODS as PING_METHODS
from .pings import ping, shown_path
from .ports import Clock, GroupStore, Heartbeats, IncidentStore, SecretResolver, UsedTokens
from .security import (
    AckClaim,
    Expired,
    Unauthorized,
    verify_ack_token,
    verify_bearer_token,
    verify_pagerduty_signature,
    verify_shared_token,
    verify_slack_signature,
)
from .shapes import BadShape, ListOf, Nullable, Obj, Text, check, read_json
from .statuspage import StatusPageService

logger = logging.getLogger(__name__)

PAGERDUTY_SECRET_ENV = "PAGERDUTY_WEBHOOK_SECRET_REF"  # one or more references, comma-separated
ACK_SECRET_ENV = "ACK_SECRET_REF"
ALERTMANAGER_TOKEN_ENV = "ALERTMANAGER_TOKEN_REF"  # bearer token /alertmanager requires
ALERTMANAGER_ALLOW_UNAUTHENTICATED_ENV = "ALERTMANAGER_ALLOW_UNAUTHENTICATED"  # "true": local stack only
FOLLOW_UP_EVENT_KEY = "uptime_relay_followup"  # an asynchronous self-invocation carrying a follow-up
EMAIL_LINK_BY = (
    "email link holder"  # who an email-link ack is recorded as when the mail had several recipients
)
RESPONSE_URL_TIMEOUT_S = 2.0
OPEN_STATUSES = ("open", "acknowledged")
PAGERDUTY_REPLAY_WINDOW = timedelta(minutes=5)  # occurred_at vs the real clock, either way
MAX_PAGERDUTY_EVENT_ID_LEN = 256  # PagerDuty's are UUIDs; the record's key stays small

# every answer, in ``Actions.handle``: the ack pages hold the token in their URL and a button that
# acts, so no framing (clickjacking), no sniffing, no Referer; the pages use inline style attributes
# and one form posting back to this origin, nothing else
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# the fields the signed routes read, checked before reading them (``shapes``)
_OPTIONAL_TEXT = Nullable(str)
SLACK_INTERACTION = Obj({"type": _OPTIONAL_TEXT})  # any interaction payload: only its type is read
SLACK_BLOCK_ACTIONS = Obj(
    {
        "type": str,
        "user": Nullable(Obj({"id": _OPTIONAL_TEXT, "username": _OPTIONAL_TEXT, "name": _OPTIONAL_TEXT})),
        "actions": Nullable(ListOf(Obj({"action_id": _OPTIONAL_TEXT, "value": _OPTIONAL_TEXT}))),
        "response_url": _OPTIONAL_TEXT,
        "message": Nullable(
            Obj(
                {
                    "text": _OPTIONAL_TEXT,
                    "ts": _OPTIONAL_TEXT,
                    "blocks": Nullable(
                        ListOf(Obj({"type": _OPTIONAL_TEXT, "elements": Nullable(ListOf(object))}))
                    ),
                }
            )
        ),
        "container": Nullable(Obj({"channel_id": _OPTIONAL_TEXT, "message_ts": _OPTIONAL_TEXT})),
        "channel": Nullable(Obj({"id": _OPTIONAL_TEXT})),
    }
)
PAGERDUTY_WEBHOOK = Obj(
    {
        "event": Obj(
            {
                "id": Text(MAX_PAGERDUTY_EVENT_ID_LEN),
                "event_type": str,
                "occurred_at": str,
                "resource_type": _OPTIONAL_TEXT,
                "agent": Nullable(Obj({"id": _OPTIONAL_TEXT, "summary": _OPTIONAL_TEXT})),
                "data": Nullable(Obj({"id": _OPTIONAL_TEXT, "incident_key": _OPTIONAL_TEXT})),
            },
            required=frozenset({"id", "event_type", "occurred_at"}),
        )
    },
    required=frozenset({"event"}),
)


class HandlerResult(Protocol):
    action: str  # an ``Action`` value, or "error"


class OnChange(Protocol):
    """What runs after an acknowledgement or a resolve (``followups.ChangeNotifier``)."""

    def __call__(
        self, kind: str, incident: Incident, by: str, via: str, source: Mapping[str, Any] | None = None
    ) -> object: ...


class HttpClient(Protocol):
    """What posts to Slack's ``response_url`` (a ``requests.Session``)."""

    def post(self, url: str, *, json: Any, timeout: float) -> Any: ...


class AlertHandler(Protocol):
    """Where Alertmanager alerts go when no ``on_alerts`` is given: the relay (``Relay.handle``)."""

    def enrich(self, alert: Alert) -> Alert:
        """The alert with what the relay adds to every alert (alarm tags, check labels)."""
        ...

    def handle(self, alerts: list[Alert], now: datetime) -> Sequence[HandlerResult] | None: ...


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
    incident: Incident | None = None
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
            who = inc.resolved_by if inc is not None else None
            return f"{name} is already resolved" + (f" (by {who})." if who else ".")
        who = inc.acknowledged_by if inc is not None else None
        return f"{name} is already acknowledged" + (f" by {who}." if who else ".")


def _incident_name(incident: Incident) -> str:
    return str(incident.name or incident.check or incident.id)


def _json(status: int, obj: Any) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(obj))


def _text(status: int, text: str) -> Response:
    return Response(status, {"Content-Type": "text/plain; charset=utf-8"}, text)


def _lower(headers: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


class Actions:
    """The router. ``store`` is an ``IncidentStore``; ``secrets`` resolves secret references.

    ``clock`` is the (possibly simulated) clock for incident times and ack-link expiry; ``real_clock``
    the wall clock used only for the replay windows of Slack and PagerDuty. ``used_tokens`` records
    used ack links, ``used_events`` applied PagerDuty events (``UsedTokens``; in memory by default).
    ``on_alerts(alerts)`` takes parsed Alertmanager alerts (default: ``relay.handle(alerts, now)``).
    ``on_change(kind, incident, by, via, source=None)`` is called after a successful ack/resolve
    (``followups.ChangeNotifier`` tells the other channels; ``source`` names the Slack message whose
    button was pressed).
    ``follow_up_runner(job)`` takes the follow-ups of a Slack click off the answer's path (a
    JSON-able job for ``run_follow_up``; default: a background thread)."""

    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        *,
        secrets: SecretResolver,
        relay: AlertHandler | None = None,
        on_alerts: Callable[[list[Alert]], Any] | None = None,
        parse_event: Callable[[Any], list[Alert]] | None = None,
        used_tokens: UsedTokens | None = None,
        used_events: UsedTokens | None = None,
        clock: Clock | None = None,
        real_clock: Clock | None = None,
        slack_client: HttpClient | None = None,
        ack_secret_ref: str | None = None,
        pagerduty_secret_refs: Iterable[str] | None = None,
        alertmanager_token_ref: str | None = None,
        on_change: OnChange | None = None,
        follow_up_runner: Callable[[dict[str, Any]], object] | None = None,
        allow_unauthenticated_alertmanager: bool | None = None,
        environ: Mapping[str, str] | None = None,
        heartbeats: Heartbeats | None = None,
        status_page: StatusPageService | None = None,
        groups: GroupStore | None = None,
    ):
        env = os.environ if environ is None else environ
        self.heartbeats = heartbeats if heartbeats is not None else InMemoryHeartbeats()
        self.status_page = status_page
        self.config = config
        self.store = store
        self.groups = groups  # route groups: a button or link naming a group acts on its members
        self.secrets = secrets
        self.relay = relay
        self._on_alerts = on_alerts
        self._parse_event = parse_event or default_parse_event
        self.used_tokens = used_tokens if used_tokens is not None else InMemoryUsedTokens()
        self.used_events = used_events if used_events is not None else InMemoryUsedTokens()
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
        if allow_unauthenticated_alertmanager is None:
            allow_unauthenticated_alertmanager = _truthy(env.get(ALERTMANAGER_ALLOW_UNAUTHENTICATED_ENV))
        self.allow_unauthenticated_alertmanager = allow_unauthenticated_alertmanager
        self.on_change = on_change
        self.follow_up_runner = follow_up_runner or self._in_background
        self._background: ThreadPoolExecutor | None = None
        self._background_lock = threading.Lock()

    # ------------------------------------------------------------------------------ routing
    def handle(
        self, method: str, path: str, headers: Mapping[str, Any] | None, body: bytes | str
    ) -> Response:
        """The answer to one request, with ``SECURITY_HEADERS`` whatever it is."""
        response = self._route(method, path, headers, body)
        return Response(response.status, {**response.headers, **SECURITY_HEADERS}, response.body)

    def _route(
        self, method: str, path: str, headers: Mapping[str, Any] | None, body: bytes | str
    ) -> Response:
        method = (method or "").upper()
        path = (path or "/").split("?", 1)[0]
        if isinstance(body, str):  # lone surrogates pass: a signature or parser then refuses them
            body = body.encode("utf-8", "surrogatepass")
        body = body or b""
        headers = _lower(headers)
        if path.startswith("/ack/"):
            route, allowed = self._ack_link, ("GET", "HEAD", "POST")
        elif path.startswith("/ping/"):
            route, allowed = self._ping, PING_METHODS
        elif StatusPageService.routes(path):
            route, allowed = self._status, ("GET", "HEAD")
        else:
            route, allowed = {
                "/slack/actions": (self._slack, ("POST",)),
                "/pagerduty": (self._pagerduty, ("POST",)),
                "/alertmanager": (self._alertmanager, ("POST",)),
                "/opsgenie": (self._opsgenie, ("POST",)),
            }.get(path.rstrip("/") or "/", (None, ()))
        if route is None:
            return _text(404, "not found")
        if method not in allowed:
            return Response(
                405, {"Allow": ", ".join(allowed), "Content-Type": "text/plain"}, "method not allowed"
            )
        try:
            response = route(method, path, headers, body)
        except Unauthorized as exc:
            self._refuse(method, path, exc.reason)
            if path.startswith("/ack/"):
                response = _page(
                    exc.status, "Link not accepted", _ACK_REFUSALS.get(type(exc), _ACK_REFUSALS[Unauthorized])
                )
            else:
                response = _text(exc.status, "unauthorized" if exc.status == 401 else "forbidden")
                if path.rstrip("/") == "/alertmanager" and exc.status == 401:
                    response.headers["WWW-Authenticate"] = 'Bearer realm="uptime-relay"'
        if method == "HEAD":
            return Response(response.status, response.headers, "")
        return response

    def _ping(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        answer = ping(self.config, self.heartbeats, self.secrets, path, self.now())
        return _text(answer.status, answer.text)

    def _status(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """The public status page and badges (``statuspage``); 404 without ``status_page``."""
        if self.status_page is None:
            return _text(404, "not found")
        page = self.status_page.respond(path)
        return Response(page.status, {"Content-Type": page.content_type, **page.headers}, page.body)

    def _refuse(self, method: str, path: str, reason: str) -> None:
        shown = "/ack/<token>" if path.startswith("/ack/") else path
        shown = shown_path(path) if path.startswith("/ping/") else shown
        logger.warning("refused %s %s: %s", method, shown, reason, extra={"refused": reason, "route": shown})

    def now(self) -> datetime:
        return self._clock.now() if self._clock is not None else clockmod.now()

    # ------------------------------------------------------------------------------ state changes
    def apply(
        self,
        kind: str,
        incident_id: str,
        *,
        by: str,
        via: str,
        at: datetime,
        source: Mapping[str, str] | None = None,
        defer: bool = False,
    ) -> Outcome:
        """Acknowledge or resolve one incident (``apply_action``), then ``on_change`` — inline, or
        with ``defer`` not at all (the caller hands ``follow_up_job(...)`` off after answering)."""
        outcome = apply_action(self.store, kind, incident_id, by=by, via=via, at=at, groups=self.groups)
        if outcome.changed and not defer:
            self._follow_up(kind, outcome.incident, by, via, source)
        return outcome

    def _follow_up(
        self, kind: str, incident: Incident | None, by: str, via: str, source: Mapping[str, str] | None = None
    ) -> object:
        if self.on_change is None or incident is None:
            return None
        try:
            if source:
                return self.on_change(kind, incident, by, via, source=dict(source))
            return self.on_change(kind, incident, by, via)
        except Exception:  # the state change stands; a follow-up failure must not undo the answer
            logger.exception("follow-up after %s of %s failed", kind, incident.id)
            return None

    def run_follow_up(self, job: Mapping[str, Any], on_change: OnChange | None = None) -> object:
        """Run a handed-off follow-up (``follow_up_job``): the incident is read again, so the other
        channels hear its current state. ``on_change`` overrides the router's (e.g. one with
        retries, in an asynchronous invocation nobody waits for)."""
        try:
            kind, incident_id = str(job["kind"]), str(job["incident_id"])
            by, via = str(job["by"]), str(job["via"])
        except (KeyError, TypeError):
            logger.error("follow-up job without kind/incident_id/by/via: ignored")
            return None
        if kind not in (ACK, RESOLVE):
            logger.error("follow-up job with unknown kind %r: ignored", kind)
            return None
        source = job.get("source") if isinstance(job.get("source"), Mapping) else None
        incident = self.store.get(incident_id)
        if incident is None:
            logger.warning("follow-up for %s: incident not found", incident_id)
            return None
        if kind == ACK and incident.status == "resolved":  # the resolve's own follow-up tells them
            logger.info("follow-up for %s: acknowledgement overtaken by its resolve", incident_id)
            return None
        saved, self.on_change = self.on_change, on_change or self.on_change
        try:
            return self._follow_up(kind, incident, by, via, source)
        finally:
            self.on_change = saved

    def _hand_off(self, job: dict[str, Any]) -> None:
        """Give the follow-ups to the runner; if it cannot take them, run them here (late, not lost)."""
        if self.on_change is None:
            return
        try:
            self.follow_up_runner(job)
        except Exception:
            logger.exception("follow-up hand-off failed: running it before answering")
            self.run_follow_up(job)

    def _in_background(self, job: dict[str, Any]) -> None:
        """Outside Lambda: one worker thread, in order (an ack's follow-up before its resolve's);
        pending follow-ups finish before the process exits."""
        with self._background_lock:
            if self._background is None:
                self._background = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="uptime-relay-follow-up"
                )
        self._background.submit(self.run_follow_up, job)

    # ------------------------------------------------------------------------------ Slack
    def _slack(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        secret_ref = self.config.slack.signing_secret
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
            payload = read_json(form["payload"][0], "payload")
            check(payload, SLACK_INTERACTION, "payload")
            if payload.get("type") == "block_actions":
                check(payload, SLACK_BLOCK_ACTIONS, "payload")
        except BadShape as exc:
            logger.warning("slack action: %s", exc)
            return _text(400, f"expected Slack's interaction payload: {exc}")
        except (KeyError, IndexError, UnicodeDecodeError) as exc:
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
        kind, value = action["action_id"], str(action.get("value") or "")
        user = payload.get("user") or {}
        user_id = str(user.get("id") or "")
        by = str(user.get("username") or user.get("name") or user_id or "someone in Slack")
        response_url = payload.get("response_url")
        source = _pressed_message(payload)
        at = self.now()
        # a grouped message's buttons carry every incident it covers: "inc-a,inc-b,inc-c"; a
        # route group's carry the group's id, which stands for its members
        incident_ids = self.expand_groups(kind, button_incident_ids(value), by=by, at=at)
        outcomes = [
            self.apply(kind, incident_id, by=by, via="slack", at=at, source=source, defer=True)
            for incident_id in incident_ids
        ]
        changed = [o for o in outcomes if o.changed]
        if changed:
            if response_url:
                message = _updated_message(
                    payload.get("message"), kind, user_id or by, at, changed[0], value=",".join(incident_ids)
                )
                self._post_response_url(response_url, message)
            # every state change is written before any follow-up runs: a member's resolve then
            # counts the others as resolved too (``still_firing``)
            for o in changed:
                self._hand_off(follow_up_job(kind, o.incident.id, by=by, via="slack", source=source))
            return Response(200)
        outcome = outcomes[0] if outcomes else Outcome(False, None, "not_found")
        ephemeral = {"response_type": "ephemeral", "replace_original": False, "text": outcome.message(kind)}
        if response_url:
            self._post_response_url(response_url, ephemeral)
        return _json(200, ephemeral)

    def _post_response_url(self, url: str, message: dict[str, Any]) -> None:
        try:
            client = self._slack_client
            if client is None:
                import requests  # lazy: only a Slack button press needs it (cold start)

                client = self._slack_client = requests.Session()
            reply = client.post(url, json=message, timeout=RESPONSE_URL_TIMEOUT_S)
            status = getattr(reply, "status_code", 200)
            if status >= 400:
                logger.warning("slack response_url answered %s", status)
        except Exception as exc:
            logger.warning("slack response_url post failed: %s", type(exc).__name__)

    # ------------------------------------------------------------------------------ ack links
    def _ack_link(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """GET/HEAD: verify and show a confirmation page (no side effect: mail scanners fetch links).
        POST (the page's button): use the single-use token and acknowledge."""
        if not self.ack_secret_ref:
            self._refuse(method, path, "ack links are not configured (ACK_SECRET_REF unset)")
            return _page(503, "Acknowledge links are not configured", "Ask your administrator.")
        token = unquote(path[len("/ack/") :]).strip("/")
        now = self.now()
        claim = verify_ack_token(self._resolve(self.ack_secret_ref, ACK_SECRET_ENV), token, now)
        if method != "POST":
            return self._ack_confirmation(claim, token)
        if not self.used_tokens.claim(claim.jti, claim.expires_at, incident_id=claim.incident_id):
            raise _Replayed("ack link already used")
        by = claim.recipient or EMAIL_LINK_BY
        # a grouped e-mail's link acknowledges every incident the mail listed
        named = ack_link_incident_ids(self.store, claim.incident_id)
        outcomes = [
            self.apply(ACK, incident_id, by=by, via="email link", at=now)
            for incident_id in self.expand_groups(ACK, named, by=by, at=now)
        ]
        changed = [o for o in outcomes if o.changed]
        if len(changed) > 1:
            names = ", ".join(_incident_name(o.incident) for o in changed)
            return _page(
                200,
                "Acknowledged",
                f"{len(changed)} incidents are acknowledged by {by}: {names}. Escalation has stopped.",
            )
        if changed:
            return _page(
                200,
                "Acknowledged",
                f"{_incident_name(changed[0].incident)} is acknowledged by {by}. Escalation has stopped.",
            )
        outcome = outcomes[0] if outcomes else Outcome(False, None, "not_found")
        if outcome.reason == "not_found":
            return _page(404, "Unknown incident", outcome.message(ACK))
        return _page(200, "Nothing to do", outcome.message(ACK))

    def _ack_confirmation(self, claim: AckClaim, token: str) -> Response:
        if self.used_tokens.is_used(claim.jti):
            raise _Replayed("ack link already used")
        ids = self.group_members(ack_link_incident_ids(self.store, claim.incident_id))
        incident = self.store.get(ids[0]) if ids else None
        if incident is None:
            return _page(404, "Unknown incident", Outcome(False, None, "not_found").message(ACK))
        name = _incident_name(incident)
        facts = [
            ("Incident", name),
            ("State", str(incident.status)),
            ("Opened", f"{incident.opened_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"),
        ]
        judged = incident  # a group has something to do while any member is still open
        if len(ids) > 1:
            facts.append(("Group", f"this link acknowledges all {len(ids)} incidents of the message"))
            members = (self.store.get(i) for i in ids)
            judged = next((m for m in members if m is not None and m.status == "open"), incident)
        if claim.recipient:
            facts.append(("Acknowledging as", claim.recipient))
        table = "".join(
            f'<tr><th style="text-align:left;padding-right:1em">{html.escape(k)}</th>'
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in facts
        )
        blocked = _blocked(ACK, judged.status)
        if blocked:
            text = Outcome(False, judged, blocked).message(ACK) + " Nothing to do."
            return _page(200, "Nothing to do", text, extra=f"<table>{table}</table>")
        form = (
            f'<form method="post" action="/ack/{html.escape(token, quote=True)}">'
            '<button type="submit" style="font-size:1.1em;padding:.5em 1.5em">Acknowledge</button></form>'
        )
        return _page(
            200,
            "Acknowledge this incident?",
            "Acknowledging stops the escalation; the incident stays open until it recovers or is resolved.",
            extra=f"<table>{table}</table>{form}",
        )

    # ------------------------------------------------------------------------------ PagerDuty
    def _pagerduty(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        secrets = []
        for ref in self.pagerduty_secret_refs:
            try:
                secrets.append(self.secrets.resolve(ref))
            except Exception as exc:
                logger.warning("PagerDuty webhook secret %s could not be read (%s)", ref, type(exc).__name__)
        verify_pagerduty_signature(secrets, body, headers.get("x-pagerduty-signature"))
        try:
            event, occurred_at = _pagerduty_event(body)
        except BadShape as exc:
            logger.warning("PagerDuty webhook: %s", exc)
            return _text(400, f"expected a PagerDuty v3 webhook event: {exc}")
        event_id, event_type = event["id"], event["event_type"]
        skew = self._real_clock.now() - occurred_at
        if abs(skew) > PAGERDUTY_REPLAY_WINDOW:
            logger.warning(
                "PagerDuty event %s (%s) occurred %d s from now, outside the %d s window: ignored",
                event_id,
                event_type,
                int(skew.total_seconds()),
                PAGERDUTY_REPLAY_WINDOW.total_seconds(),
            )
            return _json(200, {"result": "stale event"})
        kind = {"incident.acknowledged": ACK, "incident.resolved": RESOLVE}.get(event_type)
        if kind is None:
            return _json(200, {"result": "ignored"})
        if not self.used_events.claim(event_id, occurred_at + PAGERDUTY_REPLAY_WINDOW):
            logger.warning("PagerDuty event %s (%s) was already applied: ignored", event_id, event_type)
            return _json(200, {"result": "duplicate event"})
        try:
            return self._apply_pagerduty(kind, event)
        except Exception:
            logger.exception("PagerDuty event %s: could not apply; answering 500 so it is retried", event_id)
            try:
                self.used_events.release(event_id)
            except Exception:  # the retry will then be taken for a replay: say so
                logger.exception("PagerDuty event %s: its record could not be released", event_id)
            return _text(500, "could not apply the event")

    def _apply_pagerduty(self, kind: str, event: Mapping[str, Any]) -> Response:
        data = event.get("data") or {}
        key = data.get("incident_key")
        agent = event.get("agent") or {}
        who = str(agent.get("summary") or agent.get("id") or "PagerDuty")
        incident = self._by_dedup_key(key) if key else None
        if incident is None:
            logger.info(
                "PagerDuty %s for %s: no open incident with that dedup key",
                event["event_type"],
                data.get("id"),
            )
            return _json(200, {"result": "no matching incident"})
        at = self.now()
        if incident.group_id and key == key_for(incident.group_id):  # a route group's incident
            members = self.expand_groups(kind, [incident.group_id], by=who, at=at)
            outcomes = [self.apply(kind, i, by=who, via="pagerduty", at=at) for i in members]
            changed = any(o.changed for o in outcomes)
            return _json(200, {"result": "changed" if changed else "unchanged", "group": incident.group_id})
        outcome = self.apply(kind, incident.id, by=who, via="pagerduty", at=at)
        return _json(
            200, {"result": "changed" if outcome.changed else outcome.reason, "incident": incident.id}
        )

    def _by_dedup_key(self, key: str) -> Incident | None:
        """The open incident whose PagerDuty handle (or opening alert) carries ``key``."""
        for incident in self.store.list(statuses=OPEN_STATUSES):
            for handle in (incident.handles or {}).values():
                if isinstance(handle, Mapping) and (
                    handle.get("dedup_key") == key or key in (handle.get("dedup_keys") or ())
                ):
                    return incident
            if incident.alert is not None and alert_dedup_key(incident.alert) == key:
                return incident
            if incident.group_id and key_for(incident.group_id) == key:
                return incident
        return None

    # ------------------------------------------------------------------------------ Opsgenie
    def _opsgenie(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Opsgenie's outgoing webhook (``opsgenie_webhook``): token header, then ack / close."""
        tokens = opsgenie_webhook.tokens(self.config, self.secrets)
        verify_shared_token(tokens, headers.get(opsgenie_webhook.TOKEN_HEADER))
        try:
            kind, alias, who = opsgenie_webhook.parse(body)
        except BadShape as exc:
            return _text(400, f"expected an Opsgenie webhook: {exc}")
        incident = None
        if kind is not None:
            incident = opsgenie_webhook.find_incident(self.store.list(statuses=OPEN_STATUSES), alias)
        outcome = (
            self.apply(kind, incident.id, by=who, via="opsgenie", at=self.now())
            if kind is not None and incident is not None
            else Outcome(False, incident)
        )
        return _json(200, opsgenie_webhook.answer(kind, incident, outcome.changed, outcome.reason))

    # ------------------------------------------------------------------------------ route groups
    def group_members(self, ids: Iterable[str]) -> list[str]:
        """``ids`` with each route group's id (``grp-…``) replaced by its firing members."""
        out: list[str] = []
        for one in ids:
            key = key_of(one)
            if key is None or self.groups is None:
                out.append(one)
                continue
            group = self.groups.get(key)
            if group is not None and group.id == one:
                out.extend(m.id for m in group.firing)
        return list(dict.fromkeys(out))

    def expand_groups(self, kind: str, ids: Iterable[str], *, by: str, at: datetime) -> list[str]:
        """``group_members``, and the group itself changed first (conditional writes):
        acknowledged (its repeats and escalation stop; Slack and PagerDuty are told at the next
        sweep), or its members marked resolved (its resolve goes out at the next sweep)."""
        ids = list(ids)
        members = self.group_members(ids)
        if self.groups is None:
            return members
        for one in ids:
            key = key_of(one)
            if key is None:
                continue

            def change(group, one=one):
                if group is None or group.id != one:
                    return None
                if kind == ACK:
                    return acknowledge_group(group, by, at)
                for member in group.firing:
                    group = resolve_member(group, member.id, at) or group
                return group

            try:
                self.groups.change(key, change)
            except Exception:  # the members are still acknowledged/resolved; the sweep reconciles
                logger.exception("group %s could not be changed", one)
        return members

    # ------------------------------------------------------------------------------ Alertmanager
    def _alertmanager(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if self.alertmanager_token_ref:
            expected = self._resolve(self.alertmanager_token_ref, ALERTMANAGER_TOKEN_ENV)
            verify_bearer_token(expected, headers.get("authorization"))
        elif not self.allow_unauthenticated_alertmanager:
            raise Unauthorized(
                f"no Alertmanager bearer token configured: set {ALERTMANAGER_TOKEN_ENV} "
                f"(or {ALERTMANAGER_ALLOW_UNAUTHENTICATED_ENV}=true on a local stack)"
            )
        alerts = self._parse_event(body)
        try:
            if self._on_alerts is not None:
                self._on_alerts(alerts)
            elif self.relay is not None:
                alerts = [self.relay.enrich(alert) for alert in alerts]
                results = self.relay.handle(alerts, self.now()) or []
                failed = [r for r in results if r.action == "error"]
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


def apply_action(
    store: IncidentStore,
    kind: str,
    incident_id: str,
    *,
    by: str,
    via: str,
    at: datetime,
    groups: GroupStore | None = None,
) -> Outcome:
    """Acknowledge (``kind="ack"``) or resolve one incident through the store's conditional writes.

    Shared by the actions router and ``uptime-relay incidents ack|resolve``. Nothing changes when
    the incident is unknown, already resolved, or (for an ack) already acknowledged; a lost race
    is reported the same way. A resolved member of a route group is marked resolved in its group
    (``groups``; best effort: the group's next flush reconciles it anyway)."""
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
    if groups is not None and kind == RESOLVE and incident.group_id:
        try:
            member_resolved(groups, incident.group_id, incident_id, at)
        except Exception:
            logger.exception("group %s could not learn that %s resolved", incident.group_id, incident_id)
    logger.info(
        "%s incident %s by %s via %s",
        "acknowledged" if kind == ACK else "resolved",
        incident_id,
        by,
        via,
        extra={"incident_id": incident_id, "action": kind, "via": via},
    )
    return Outcome(True, store.get(incident_id))


class _Replayed(Unauthorized):
    status = 403


_ACK_REFUSALS = {
    Unauthorized: "This acknowledge link is not valid. Use the newest notification, Slack or the CLI.",
    Expired: "This acknowledge link has expired. Use Slack or `uptime-relay incidents ack ID`.",
    _Replayed: "This acknowledge link was already used; nothing was changed.",
}


def follow_up_job(
    kind: str, incident_id: str, *, by: str, via: str, source: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What ``Actions.run_follow_up`` needs, as JSON (the payload of an asynchronous invocation:
    ``{"uptime_relay_followup": job}``)."""
    job: dict[str, Any] = {"kind": kind, "incident_id": incident_id, "by": by, "via": via}
    if source:
        job["source"] = dict(source)
    return job


def _pressed_message(payload: Mapping[str, Any]) -> dict[str, str] | None:
    """``{"channel", "ts"}`` of the Slack message whose button was pressed (block_actions payload)."""
    container = payload.get("container") if isinstance(payload.get("container"), Mapping) else {}
    message = payload.get("message") if isinstance(payload.get("message"), Mapping) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), Mapping) else {}
    channel_id = str(container.get("channel_id") or channel.get("id") or "")
    ts = str(container.get("message_ts") or message.get("ts") or "")
    if not channel_id and not ts:
        return None
    return {"channel": channel_id, "ts": ts}


def _pagerduty_event(body: bytes) -> tuple[dict[str, Any], datetime]:
    """The ``event`` of a PagerDuty v3 webhook body and its ``occurred_at``, or ``BadShape``."""
    webhook = read_json(body, "body")
    check(webhook, PAGERDUTY_WEBHOOK, "body")
    event = webhook["event"]
    try:
        occurred_at = datetime.fromisoformat(event["occurred_at"])
        if occurred_at.tzinfo is None:
            raise ValueError("no zone")
        occurred_at = occurred_at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadShape("body.event.occurred_at: expected an ISO 8601 time with a zone") from None
    return event, occurred_at


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _blocked(kind: str, status: str) -> str | None:
    if status == "resolved":
        return "already_resolved"
    if kind == ACK and status == "acknowledged":
        return "already_acknowledged"
    return None


def _pagerduty_refs(config: Config, env_value: str) -> list[str]:
    refs = [r.strip() for r in env_value.split(",") if r.strip()]
    for channel in config.channels.values():
        if channel.type == "pagerduty":
            ref = channel.get("webhook_secret")
            if ref and ref not in refs:
                refs.append(ref)
    return refs


def _updated_message(
    message: Any, kind: str, user: str, at: datetime, outcome: Outcome, *, value: str | None = None
) -> dict[str, Any]:
    """The original Slack message with its buttons updated and a line saying who did what, when.
    ``value``: what a Resolve button added after an ack acts on (default: the outcome's incident)."""
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
                    "value": value or outcome.incident.id,
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


def _page(status: int, title: str, text: str, *, extra: str = "") -> Response:
    """A small HTML page; ``title`` and ``text`` are escaped, ``extra`` is markup built (escaped) here."""
    body = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · uptime-relay</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:36em;margin:3em auto">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{extra}</body></html>"
    )
    return Response(
        status,
        {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
        body,
    )
