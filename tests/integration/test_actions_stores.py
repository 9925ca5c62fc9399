"""The small DynamoDB adapters of the actions area: used ack tokens and one-off silences (moto)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.adapters.ack_tokens import PAGERDUTY_EVENT_PREFIX, DynamoUsedTokens
from uptime_relay.adapters.incidents import create_table
from uptime_relay.adapters.silences import DynamoSilences
from uptime_relay.domain.silence import Silence
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import silence as silence_cli

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(aws):
    name = f"uptime-relay-{uuid.uuid4().hex[:8]}"
    create_table(aws("dynamodb"), name)
    return name


def test_an_ack_token_id_can_be_claimed_once_with_a_ttl(aws, table):
    tokens = DynamoUsedTokens(table, client=aws("dynamodb"))
    assert tokens.claim("jti-1", T0 + timedelta(hours=24), incident_id="inc-1") is True
    assert tokens.claim("jti-1", T0 + timedelta(hours=24), incident_id="inc-1") is False
    assert tokens.claim("jti-2", T0 + timedelta(hours=24)) is True
    item = aws("dynamodb").get_item(TableName=table, Key={"pk": {"S": "ACKTOKEN#jti-1"}})["Item"]
    assert item["expires_at"] == {"N": str(int((T0 + timedelta(hours=24)).timestamp()))}
    # the confirmation page reads without using: only claimed ids are used
    assert tokens.is_used("jti-1") is True and tokens.is_used("jti-3") is False
    assert tokens.claim("jti-3", T0 + timedelta(hours=24)) is True


def test_a_pagerduty_event_id_is_recorded_apart_from_ack_tokens_and_can_be_released(aws, table):
    events = DynamoUsedTokens(table, client=aws("dynamodb"), prefix=PAGERDUTY_EVENT_PREFIX)
    tokens = DynamoUsedTokens(table, client=aws("dynamodb"))
    until = T0 + timedelta(minutes=5)
    assert events.claim("evt-1", until) is True
    assert events.claim("evt-1", until) is False
    assert tokens.is_used("evt-1") is False  # an ack token with the same id is another record
    item = aws("dynamodb").get_item(TableName=table, Key={"pk": {"S": "PDEVENT#evt-1"}})["Item"]
    assert item["expires_at"] == {"N": str(int(until.timestamp()))}
    # the action it guarded failed: the sender's retry may claim it again
    events.release("evt-1")
    assert events.is_used("evt-1") is False
    assert events.claim("evt-1", until) is True


def test_silences_round_trip_and_end_conditionally(aws, table):
    silences = DynamoSilences(table, client=aws("dynamodb"))
    s = Silence(
        "sil-1", {"check": "api"}, T0, T0 + timedelta(hours=2), created_by="alice", comment="migration"
    )
    assert silences.add(s) is True
    assert silences.add(s) is False  # an id is never overwritten
    assert silences.get("sil-1") == s
    assert silences.active(T0 + timedelta(minutes=5)) == [s]
    assert silences.active(T0 + timedelta(hours=3)) == []
    assert silences.end("sil-1", T0 + timedelta(minutes=10)) is True
    assert silences.active(T0 + timedelta(minutes=11)) == []
    assert silences.end("sil-1", T0 + timedelta(minutes=12)) is False
    assert [x.id for x in silences.list()] == ["sil-1"]


def test_the_silence_cli_against_dynamodb(table, moto_endpoint):
    def run(*argv):
        args = build_parser().parse_args(
            ["silence", *argv, "--table", table, "--endpoint-url", moto_endpoint]
        )
        out, err = io.StringIO(), io.StringIO()
        return silence_cli.run(args, out=out, err=err, now=T0), out.getvalue(), err.getvalue()

    code, out, _ = run("add", "--match", "check=api", "--for", "1h", "--by", "alice")
    assert code == 0
    silence_id = out.split(":")[0]
    code, out, _ = run("list")
    assert code == 0 and silence_id in out and "active" in out
    assert run("end", silence_id)[0] == 0
    assert run("list")[1].strip() == "no silences"
