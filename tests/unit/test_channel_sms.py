"""The SMS channel: one ≤160-character GSM-7 text per page and recipient, on-call people's phones,
no resolves unless asked, and no second text to a number on a retry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from channel_kit import EVENTS, T0, alarm, note, rendered
from hypothesis import given
from hypothesis import strategies as st
from uptime_relay import clock
from uptime_relay.adapters.secrets import StaticSecrets
from uptime_relay.config.loader import parse_config
from uptime_relay.config.model import ConfigError
from uptime_relay.domain.alert import AlertState
from uptime_relay.notifiers.base import DeliveryError, NotificationKind
from uptime_relay.notifiers.sms import GSM7_BASIC, GSM7_EXTENSION, SmsNotifier, septets, text, to_gsm7

CONFIG = """
people:
  alice: {email: alice@example.com, phone: "+15555550101"}
  bob: {slack: U0BOB, phone: "+15555550102"}
schedules:
  primary: {members: [alice, bob], rotation: daily, handoff: "09:00", start: 2026-11-16}
channels:
  phones: {type: sms, to: ["+15555550100", person:alice, oncall:primary]}
  resolves: {type: sms, to: ["+15555550100"], on_resolve: true, sender_id: Uptime}
"""


class FakeSns:
    """An SNS client that keeps what it was asked to publish; ``fail_after`` publishes, it throttles."""

    def __init__(self, fail_after: int | None = None):
        self.published: list[dict] = []
        self.fail_after = fail_after

    def publish(self, **request):
        from botocore.exceptions import ClientError

        if self.fail_after is not None and len(self.published) >= self.fail_after:
            self.fail_after = None
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
        self.published.append(request)
        return {"MessageId": f"m-{len(self.published)}"}


@pytest.fixture
def config():
    return parse_config(CONFIG, "sms.yaml")


def test_a_page_texts_each_number_once_with_the_on_call_person_of_the_moment(config, monkeypatch):
    """GIVEN to: a number, person:alice and oncall:primary WHEN a page goes out while bob is on call
    THEN three texts, one each to the number, alice and bob, marked Transactional."""
    sns = FakeSns()
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 17, 12, 0, tzinfo=T0.tzinfo))
    SmsNotifier(sns=sns).send(config.channels["phones"], note(), StaticSecrets())
    assert [p["PhoneNumber"] for p in sns.published] == ["+15555550100", "+15555550101", "+15555550102"]
    attributes = sns.published[0]["MessageAttributes"]
    assert attributes == {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}


def test_the_on_call_person_is_resolved_when_the_text_goes_out(config, monkeypatch):
    sns = FakeSns()
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 16, 12, 0, tzinfo=T0.tzinfo))
    SmsNotifier(sns=sns).send(config.channels["phones"], note(), StaticSecrets())
    assert [p["PhoneNumber"] for p in sns.published] == ["+15555550100", "+15555550101"]  # alice's day


def test_a_resolve_is_texted_only_when_the_channel_asks_for_it(config):
    sns = FakeSns()
    resolve = note(NotificationKind.RESOLVE, [alarm(state=AlertState.OK)])
    SmsNotifier(sns=sns).send(config.channels["phones"], resolve, StaticSecrets())
    assert sns.published == []
    SmsNotifier(sns=sns).send(config.channels["resolves"], resolve, StaticSecrets())
    (sent,) = sns.published
    assert sent["Message"].startswith("Resolved: ")
    assert sent["MessageAttributes"]["AWS.SNS.SMS.SenderID"]["StringValue"] == "Uptime"


def test_acknowledgements_and_warnings_are_never_texted(config):
    sns = FakeSns()
    for kind in (NotificationKind.ACKNOWLEDGE, NotificationKind.WARNING):
        SmsNotifier(sns=sns).send(config.channels["resolves"], note(kind), StaticSecrets())
    assert sns.published == []


def test_a_retry_after_a_throttle_does_not_text_the_same_number_twice(config):
    """GIVEN SNS throttles the second publish WHEN the Dispatcher's retry sends the page again
    THEN the first number is not texted a second time and the others get theirs."""
    sns = FakeSns(fail_after=1)
    notifier = SmsNotifier(sns=sns)
    with pytest.raises(DeliveryError) as throttled:
        notifier.send(config.channels["phones"], note(), StaticSecrets())
    assert not throttled.value.permanent
    notifier.send(config.channels["phones"], note(), StaticSecrets())
    numbers = [p["PhoneNumber"] for p in sns.published]
    assert len(numbers) == len(set(numbers)) == 3


def test_the_text_keeps_the_incident_id_within_160_characters():
    message = text(note(alerts=[alarm(reason="x" * 500)]))
    assert septets(message) <= 160
    assert message.startswith("FIRING: uptime-api-availability (check api)")
    assert message.endswith("... [inc-0123456789abcdef0123]")


GSM7 = set(GSM7_BASIC) | set(GSM7_EXTENSION)


@given(reason=st.text(max_size=400), name=st.text(min_size=1, max_size=80))
def test_any_alarm_text_becomes_one_gsm7_sms(reason, name):
    """Whatever an alarm says, the page is one GSM-7 message of at most 160 septets."""
    message = text(note(alerts=[alarm(name=name, reason=reason)]))
    assert set(message) <= GSM7
    assert septets(message) <= 160


def test_accents_and_typography_become_plain_gsm7():
    assert to_gsm7("Café garçon — “down” … ü ✅ 中") == 'Café garcon - "down" ... ü ?'  # é, ü are GSM-7


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: p.name)
def test_every_sample_event_renders_sns_publish_requests(capsys, event):
    code, bodies, err = rendered(capsys, "sms", event)
    assert code == 0 and (bodies or "nothing to send" in err)
    for body in bodies:
        assert set(body) == {"PhoneNumber", "Message", "MessageAttributes"}
        assert septets(body["Message"]) <= 160


@pytest.mark.parametrize(
    ("yaml", "reason"),
    [
        ("channels:\n  s: {type: sms, to: [5555550100]}\n", "expected an E.164 number"),
        ("channels:\n  s: {type: sms, to: [person:carol]}\n", "'carol' names a person that is not defined"),
        (
            "people:\n  carol: {email: c@example.com}\nchannels:\n  s: {type: sms, to: [person:carol]}\n",
            "person 'carol' has no phone",
        ),
        (
            "people:\n  carol: {email: c@example.com}\nschedules:\n  p: {members: [carol]}\n"
            "channels:\n  s: {type: sms, to: [oncall:p]}\n",
            "oncall:p: person 'carol' has no phone",
        ),
        ("people:\n  carol: {phone: '555'}\n", "not an E.164 phone number"),
        ("channels:\n  s: {type: sms, to: [+15555550100]}\n", 'quote it, with its +: "+15555550100"'),
        ("channels:\n  s: {type: sms, to: ['+15555550100'], sender_id: 'way too long id'}\n", "1 to 11"),
    ],
)
def test_bad_sms_settings_are_refused_naming_what_and_where(yaml, reason):
    with pytest.raises(ConfigError) as refused:
        parse_config(yaml, "sms.yaml")
    assert reason in str(refused.value)
    assert "sms.yaml:" in str(refused.value)


def test_render_shows_who_was_on_call_when_the_alarm_changed_state(config):
    notifier = SmsNotifier(sns=FakeSns())
    at = datetime(2026, 11, 17, 12, 0, tzinfo=T0.tzinfo)
    bodies = notifier.build_payloads(config.channels["phones"], note(alerts=[alarm(time=at)]))
    assert [b["PhoneNumber"] for b in bodies][-1] == "+15555550102"
    later = notifier.build_payloads(
        config.channels["phones"], note(alerts=[alarm(time=at + timedelta(days=1))])
    )
    assert [b["PhoneNumber"] for b in later] == ["+15555550100", "+15555550101"]
