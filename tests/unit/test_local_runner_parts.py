"""Pieces of the local runner that need no moto: EMF parsing, stdout sink, events, demo target."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from uptime_relay.config.loader import load_config
from uptime_relay_tools.local.demo import demo_config_text, write_demo_config
from uptime_relay_tools.local.demo_target import DemoTarget, Outage
from uptime_relay_tools.local.functions import function_url_event, function_url_response
from uptime_relay_tools.local.runner import FunctionOutput, emf_datapoints, scheduled_event

EMF = {
    "_aws": {
        "Timestamp": 1764064800000,
        "CloudWatchMetrics": [
            {
                "Namespace": "UptimeRelay",
                "Dimensions": [["Check"]],
                "Metrics": [{"Name": "Availability", "Unit": "Count"}],
            }
        ],
    },
    "Check": "api",
    "Availability": [0.0],
}


def test_an_emf_document_becomes_one_datapoint_per_value_and_dimension_set():
    assert emf_datapoints(EMF) == [("UptimeRelay", "Availability", {"Check": "api"}, 0.0, "Count")]
    assert emf_datapoints({"message": "not a metric"}) == []


def test_function_stdout_is_parsed_and_other_text_passes_through():
    seen: list[dict] = []
    passthrough = io.StringIO()
    sink = FunctionOutput(passthrough, seen.append)
    sink.write(json.dumps(EMF) + '\nplain text\n{"half')
    sink.write('": 1}\n')
    assert seen == [EMF, {"half": 1}]
    assert passthrough.getvalue() == "plain text\n"


def test_a_scheduled_event_looks_like_eventbridges():
    event = scheduled_event("probe", datetime(2026, 11, 25, 10, 3, tzinfo=UTC))
    assert event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2026-11-25T10:03:00Z"
    assert event["resources"][0].endswith(":rule/probe")


def test_a_request_becomes_a_function_url_event_and_the_answer_an_http_response():
    event = function_url_event("POST", "/slack/actions?x=1", {"Content-Type": "text/plain"}, b"payload=1")
    assert event["rawPath"] == "/slack/actions" and event["rawQueryString"] == "x=1"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["headers"] == {"content-type": "text/plain"} and event["body"] == "payload=1"
    binary = function_url_event("POST", "/", {}, b"\xff\xfe")
    assert binary["isBase64Encoded"] is True
    assert function_url_response({"statusCode": 202, "headers": {"A": "b"}, "body": "ok"}) == (
        202,
        {"A": "b"},
        b"ok",
    )


class StoppedClock:
    def __init__(self, start: datetime) -> None:
        self.start = start
        self.at = start

    def now(self) -> datetime:
        return self.at


def test_the_demo_target_fails_during_its_scripted_outage_in_simulated_time():
    clock = StoppedClock(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    with DemoTarget(clock, [Outage(timedelta(minutes=3), timedelta(minutes=9))]) as target:
        with urllib.request.urlopen(target.url + "/health") as response:
            assert response.status == 200
        clock.at += timedelta(minutes=4)
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(target.url + "/health")
        assert failed.value.code == 503
        clock.at += timedelta(minutes=5)
        assert target.status_now() == 200
        target.down(500)
        assert target.status_now() == 500
        target.automatic()
        assert target.status_now() == 200


def test_the_demo_config_is_valid_once_the_target_is_filled_in(tmp_path):
    assert "$TARGET_URL" in demo_config_text()
    config = load_config(write_demo_config("http://127.0.0.1:8080", tmp_path))
    assert config.checks[0].url == "http://127.0.0.1:8080/health"
    assert [s.after_s for s in config.escalation_policies["critical"].steps] == [0, 120, 240]
