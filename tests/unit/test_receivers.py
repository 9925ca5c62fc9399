"""The local Slack/PagerDuty/SMTP stand-ins record traffic and answer as scripted."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import requests
from uptime_relay_tools.testing.receivers import HttpReceiver, Reply, SmtpReceiver


def test_http_receiver_answers_from_its_script_then_the_default():
    with HttpReceiver() as hook:
        hook.script("/hook", Reply(429, "slow down", {"Retry-After": "1"}))
        first = requests.post(f"{hook.url}/hook?x=1", json={"text": "hi"}, timeout=5)
        second = requests.post(f"{hook.url}/hook", json={"text": "again"}, timeout=5)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "1")
        assert second.status_code == 200
        assert [r.json()["text"] for r in hook.to("/hook")] == ["hi", "again"]


def test_smtp_receiver_keeps_messages():
    with SmtpReceiver() as smtp:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "down", "a@example.com", "b@example.com"
        msg.set_content("api is down")
        with smtplib.SMTP("127.0.0.1", smtp.port, timeout=5) as client:
            client.send_message(msg)
        assert smtp.messages[0]["Subject"] == "down"
        assert smtp.envelopes == [("a@example.com", ["b@example.com"])]
