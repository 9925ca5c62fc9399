"""Ack links: who a link acknowledges as, which incidents it names, and how it is signed.

A TRIGGER (first page or escalation) carries a signed link to the actions function
(``/ack/<token>``, see ``security.make_ack_token``). This module holds what the senders (relay,
escalator) and the receiver (the actions router) share about those links, so neither has to
import the other: ``ack_url_factory`` (the signer built from ``ACTIONS_URL`` + the secret),
``ack_link`` (one message's link, never failing a page), ``ack_recipient`` (the one address a
mail goes to, recorded as who acknowledged), ``ack_link_subject`` / ``ack_link_incident_ids``
(the incident ids a grouped message's link names, by reference when there are many) and
``button_incident_ids`` (a Slack button's value, the same id list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta

from . import clock
from .config import Config
from .domain.incident import Incident
from .ports import AckUrlFor, IncidentStore
from .security import make_ack_token

log = logging.getLogger(__name__)

ACK_LINK_LIFETIME = timedelta(hours=24)  # the README promises ack links valid 24 h
GROUP_REF = "*"  # in an ack link's subject: "and the rest of the group recorded with the first"
MAX_LINK_IDS_CHARS = 128  # incident ids named in an ack link (5 ids); bigger groups go by reference
GROUP_HANDLE = "incidents"  # handles key: the incident ids one grouped message covers


def ack_url_factory(
    actions_url: str, secret: Callable[[], str], *, lifetime: timedelta = ACK_LINK_LIFETIME
) -> AckUrlFor:
    """``(incident, recipient=None, incident_ids=()) -> https://.../ack/<signed token>`` (the actions
    function verifies it). ``recipient``: the one address the mail goes to (``ack_recipient``),
    recorded as who acknowledged; ``incident_ids``: a grouped message's incidents, all acknowledged
    by the link (``ack_link_subject`` keeps the token short for big groups)."""

    def ack_url_for(
        incident: Incident, recipient: str | None = None, incident_ids: Iterable[str] = ()
    ) -> str:
        subject = ack_link_subject([incident.id, *incident_ids])
        token = make_ack_token(secret(), subject, clock.now() + lifetime, recipient=recipient)
        return f"{actions_url.rstrip('/')}/ack/{token}"

    return ack_url_for


def ack_link(
    ack_url_for: AckUrlFor | None,
    incident: Incident,
    *,
    recipient: str | None = None,
    incident_ids: Iterable[str] = (),
) -> str | None:
    """The ack link for a message: ``ack_url_for(incident, recipient=..., incident_ids=...)``.
    None when there is no factory or it fails: a missing link must not stop a page."""
    if ack_url_for is None:
        return None
    others = tuple(i for i in dict.fromkeys(incident_ids) if i != incident.id)
    try:
        return ack_url_for(incident, recipient=recipient or None, incident_ids=others)
    except Exception:  # no ack link (e.g. the signing secret is unreadable) must not stop a page
        log.warning("no ack link for %s", incident.id, exc_info=True)
        return None


def ack_recipient(config: Config | None, channel_name: str, email_to: Iterable[str] = ()) -> str | None:
    """The one address a mail with an ack link goes to, for ``make_ack_token(recipient=...)``:
    ``email_to`` (an escalation's person) or the email channel's ``to`` when it holds exactly one
    address; None for several (the link is then recorded as the actions router's
    ``EMAIL_LINK_BY``), for other channels, or without a config."""
    channel = config.channels.get(channel_name) if config is not None else None
    if channel is None or channel.type != "email":
        return None
    to = tuple(email_to) or tuple(channel.options.get("to") or ())
    if isinstance(to, str):
        to = (to,)
    addresses = tuple(dict.fromkeys(str(a).strip() for a in to if str(a).strip()))
    return addresses[0] if len(addresses) == 1 else None


def ack_link_subject(incident_ids: Iterable[str]) -> str:
    """What an ack link's token names: the incident ids joined by "," while they stay short (the
    token under ~300 characters), else the first id and ``GROUP_REF`` (the rest is read back from
    the group its message recorded on it, ``handles["incidents"]``)."""
    ids = list(dict.fromkeys(i for i in incident_ids if i))
    joined = ",".join(ids)
    if len(ids) <= 1 or len(joined) <= MAX_LINK_IDS_CHARS:
        return joined
    return f"{ids[0]},{GROUP_REF}"


def ack_link_incident_ids(store: IncidentStore, subject: str) -> list[str]:
    """The incidents an ack link acknowledges (the inverse of ``ack_link_subject``)."""
    ids = button_incident_ids(subject)
    if GROUP_REF not in ids:
        return ids
    first = ids[0]
    found = [first]
    incident = store.get(first) if first != GROUP_REF else None
    for handles in (incident.handles if incident is not None else {}).values():
        group = handles.get(GROUP_HANDLE) if isinstance(handles, Mapping) else None
        if isinstance(group, list | tuple) and first in group:
            found.extend(str(i) for i in group)
    return list(dict.fromkeys(i for i in found if i != GROUP_REF))


def button_incident_ids(value: str) -> list[str]:
    """The incident ids a Slack button acts on: its ``value``, ids joined by "," (one for a single
    incident), order kept, blanks and repeats dropped."""
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
