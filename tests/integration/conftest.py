"""A moto server on 127.0.0.1 for the whole session; tests talk to it over real HTTP with boto3."""

from __future__ import annotations

import os

import boto3
import pytest
from uptime_relay_tools.local.moto_server import AtomicMotoServer

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint():
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        os.environ.setdefault(key, value)
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """Point boto3 (and anything reading AWS_ENDPOINT_URL) at the moto server; returns a client factory."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)

    def client(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=moto_endpoint)

    return client
