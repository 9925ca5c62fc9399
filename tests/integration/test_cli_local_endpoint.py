"""The CLI against the local stack from a fresh shell: no AWS region or credentials configured."""

from __future__ import annotations

import boto3
import pytest
from uptime_relay.adapters.incidents import create_table
from uptime_relay_tools.cli import main
from uptime_relay_tools.cli.incidents import is_local_endpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_shell(monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "TABLE_NAME",
        "UPTIME_STACK",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_incidents_list_against_the_local_stack_needs_no_aws_settings(moto_endpoint, fresh_shell, capsys):
    admin = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    create_table(admin, "fresh-shell-incidents")
    code = main(["incidents", "list", "--table", "fresh-shell-incidents", "--endpoint-url", moto_endpoint])
    assert code == 0, capsys.readouterr().err


def test_only_loopback_endpoints_get_the_local_defaults():
    assert is_local_endpoint("http://127.0.0.1:5000")
    assert is_local_endpoint("http://localhost:4566")
    assert not is_local_endpoint("https://dynamodb.eu-west-1.amazonaws.com")
    assert not is_local_endpoint("http://10.0.0.5:5000")
