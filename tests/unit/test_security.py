"""Signatures and signed links: what we accept from outside, and what we refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from uptime_relay.security import (
    AckClaim,
    Expired,
    Unauthorized,
    make_ack_token,
    pagerduty_signature,
    slack_signature,
    verify_ack_token,
    verify_bearer_token,
    verify_pagerduty_signature,
    verify_slack_signature,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
NOW = 1_764_000_000
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------- Slack
def test_it_accepts_a_slack_request_signed_just_now():
    ts = str(NOW - 5)
    verify_slack_signature(SECRET, ts, BODY, slack_signature(SECRET, ts, BODY), now_epoch=NOW)


def test_it_matches_slacks_documented_example():
    # api.slack.com/authentication/verifying-requests-from-slack: the worked example
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    verify_slack_signature(SECRET, "1531420618", body, signature, now_epoch=1531420618)


def test_it_refuses_a_forged_slack_signature():
    ts = str(NOW)
    forged = slack_signature("not-the-secret", ts, BODY)
    with pytest.raises(Unauthorized, match="does not match"):
        verify_slack_signature(SECRET, ts, BODY, forged, now_epoch=NOW)


def test_it_refuses_a_slack_body_changed_after_signing():
    ts = str(NOW)
    signature = slack_signature(SECRET, ts, BODY)
    with pytest.raises(Unauthorized):
        verify_slack_signature(SECRET, ts, BODY + b"&x=1", signature, now_epoch=NOW)


@pytest.mark.parametrize("offset", [301, -301], ids=["301s-old", "301s-in-the-future"])
def test_it_refuses_a_slack_request_outside_the_five_minute_window(offset):
    ts = str(NOW - offset)
    with pytest.raises(Unauthorized) as caught:
        verify_slack_signature(SECRET, ts, BODY, slack_signature(SECRET, ts, BODY), now_epoch=NOW)
    assert "301" in caught.value.reason


@pytest.mark.parametrize("offset", [300, -300])
def test_it_accepts_a_slack_request_at_the_edge_of_the_window(offset):
    ts = str(NOW - offset)
    verify_slack_signature(SECRET, ts, BODY, slack_signature(SECRET, ts, BODY), now_epoch=NOW)


@pytest.mark.parametrize(
    ("secret", "ts", "signature", "reason"),
    [
        (None, str(NOW), "v0=00", "not configured"),
        (SECRET, None, "v0=00", "Timestamp"),
        (SECRET, str(NOW), None, "missing X-Slack-Signature"),
        (SECRET, "yesterday", "v0=00", "not a number"),
        (SECRET, str(NOW), "v1=00", "version"),
    ],
)
def test_it_refuses_incomplete_slack_requests_saying_why(secret, ts, signature, reason):
    with pytest.raises(Unauthorized, match=reason):
        verify_slack_signature(secret, ts, BODY, signature, now_epoch=NOW)


def test_a_refusal_never_repeats_the_secret_or_the_signature():
    ts = str(NOW)
    forged = slack_signature("other", ts, BODY)
    with pytest.raises(Unauthorized) as caught:
        verify_slack_signature(SECRET, ts, BODY, forged, now_epoch=NOW)
    assert SECRET not in str(caught.value) and forged[3:] not in str(caught.value)


# --------------------------------------------------------------------------------------- ack tokens
def test_an_ack_token_carries_the_incident_and_expiry_and_is_url_safe():
    token = make_ack_token(SECRET, "inc-2026-11-25-api", T0 + timedelta(hours=24))
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) < 120
    claim = verify_ack_token(SECRET, token, T0)
    assert claim.incident_id == "inc-2026-11-25-api"
    assert claim.expires_at == T0 + timedelta(hours=24)
    assert len(claim.jti) >= 16


def test_each_ack_token_gets_its_own_jti():
    a = make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=1))
    b = make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=1))
    assert a != b
    assert verify_ack_token(SECRET, a, T0).jti != verify_ack_token(SECRET, b, T0).jti


def test_an_ack_token_accepts_epoch_times_and_a_given_jti():
    token = make_ack_token(SECRET, "inc-1", T0.timestamp() + 60, jti="abc123")
    assert verify_ack_token(SECRET, token, T0.timestamp()) == AckClaim(
        "inc-1", "abc123", T0 + timedelta(minutes=1)
    )


def test_it_refuses_an_expired_ack_token_as_forbidden():
    token = make_ack_token(SECRET, "inc-1", T0 + timedelta(minutes=30))
    with pytest.raises(Expired) as caught:
        verify_ack_token(SECRET, token, T0 + timedelta(minutes=30))
    assert caught.value.status == 403


def test_it_refuses_an_ack_token_signed_with_another_secret():
    token = make_ack_token("another-secret", "inc-1", T0 + timedelta(hours=1))
    with pytest.raises(Unauthorized, match="signature"):
        verify_ack_token(SECRET, token, T0)


def test_it_refuses_an_ack_token_pointing_at_another_incident():
    good = make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=1), jti="j1")
    other = make_ack_token(SECRET, "inc-2", T0 + timedelta(hours=1), jti="j1")
    spliced = other.split(".")[0] + "." + good.split(".")[1]
    with pytest.raises(Unauthorized):
        verify_ack_token(SECRET, spliced, T0)


@given(st.data())
def test_it_refuses_an_ack_token_with_any_character_flipped(data):
    token = make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=1), jti="fixedjti")
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.").filter(lambda c: c != token[i]))
    tampered = token[:i] + replacement + token[i + 1 :]
    # base64 without padding: the last char may carry unused bits, so a flip there can decode equal
    try:
        claim = verify_ack_token(SECRET, tampered, T0)
    except Unauthorized:
        return
    assert claim == verify_ack_token(SECRET, token, T0)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "x" * 2000, None, ".", "YQ.YQ"])
def test_it_refuses_malformed_ack_tokens(token):
    with pytest.raises(Unauthorized):
        verify_ack_token(SECRET, token, T0)


def test_ack_tokens_cannot_be_made_or_checked_without_a_secret():
    with pytest.raises(Unauthorized):
        make_ack_token("", "inc-1", T0)
    with pytest.raises(Unauthorized):
        verify_ack_token("", make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=1)), T0)


def test_incident_ids_with_separators_survive_the_round_trip():
    token = make_ack_token(SECRET, "arn:aws:cloudwatch:us-east-1:1:alarm:a|b", T0 + timedelta(hours=1))
    assert verify_ack_token(SECRET, token, T0).incident_id == "arn:aws:cloudwatch:us-east-1:1:alarm:a|b"


# --------------------------------------------------------------------------------------- PagerDuty
PD_BODY = b'{"event":{"event_type":"incident.acknowledged"}}'


def test_it_accepts_a_pagerduty_webhook_signed_with_any_current_secret():
    header = f"{pagerduty_signature('old', PD_BODY)},{pagerduty_signature('new', PD_BODY)}"
    verify_pagerduty_signature(["new"], PD_BODY, header)
    verify_pagerduty_signature(["rotated-out", "old"], PD_BODY, header)


def test_it_matches_the_pagerduty_signature_format():
    # hex HMAC-SHA256 of the raw body, prefixed v1=
    import hashlib
    import hmac

    expected = "v1=" + hmac.new(b"s3cr3t", PD_BODY, hashlib.sha256).hexdigest()
    assert pagerduty_signature("s3cr3t", PD_BODY) == expected
    verify_pagerduty_signature(["s3cr3t"], PD_BODY, expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=" + "0" * 64,
        "v0=" + "0" * 64,
        "garbage",
    ],
)
def test_it_refuses_a_wrong_or_missing_pagerduty_signature(header):
    with pytest.raises(Unauthorized):
        verify_pagerduty_signature(["s3cr3t"], PD_BODY, header)


def test_it_refuses_a_pagerduty_body_changed_after_signing():
    header = pagerduty_signature("s3cr3t", PD_BODY)
    with pytest.raises(Unauthorized, match="does not match"):
        verify_pagerduty_signature(["s3cr3t"], PD_BODY.replace(b"acknowledged", b"resolved"), header)


def test_it_refuses_pagerduty_webhooks_when_no_secret_is_configured():
    with pytest.raises(Unauthorized, match="not configured"):
        verify_pagerduty_signature([], PD_BODY, pagerduty_signature("x", PD_BODY))


# --------------------------------------------------------------------------------------- recipients
def test_an_ack_token_can_name_the_one_person_it_was_mailed_to():
    token = make_ack_token(SECRET, "inc|1", T0 + timedelta(hours=24), recipient="alice|ops@example.com")
    claim = verify_ack_token(SECRET, token, T0)
    assert claim.recipient == "alice|ops@example.com" and claim.incident_id == "inc|1"
    assert (
        verify_ack_token(SECRET, make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=1)), T0).recipient
        is None
    )


def test_the_recipient_of_an_ack_token_cannot_be_changed():
    token = make_ack_token(SECRET, "inc-1", T0 + timedelta(hours=24), recipient="alice@example.com")
    payload, mac = token.split(".")
    import base64

    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    swapped = raw.rsplit(b"|", 1)[0] + b"|" + base64.urlsafe_b64encode(b"mallory@example.com").rstrip(b"=")
    forged = base64.urlsafe_b64encode(swapped).rstrip(b"=").decode() + "." + mac
    with pytest.raises(Unauthorized):
        verify_ack_token(SECRET, forged, T0)


# --------------------------------------------------------------------------------------- bearer
@pytest.mark.parametrize("header", ["Bearer t0ken", "bearer t0ken", "BEARER  t0ken "])
def test_a_bearer_token_passes_with_any_scheme_case(header):
    verify_bearer_token("t0ken", header)


@pytest.mark.parametrize(
    ("expected", "header", "reason"),
    [
        ("t0ken", None, "missing Authorization"),
        ("t0ken", "Basic dDBrZW4=", "not a Bearer"),
        ("t0ken", "Bearer t0ke", "does not match"),
        ("t0ken", "Bearer t0ken2", "does not match"),
        ("", "Bearer ", "not configured"),
        (None, "Bearer x", "not configured"),
    ],
)
def test_a_wrong_or_missing_bearer_token_is_refused_saying_why(expected, header, reason):
    with pytest.raises(Unauthorized, match=reason) as info:
        verify_bearer_token(expected, header)
    assert "t0ken" not in info.value.reason
