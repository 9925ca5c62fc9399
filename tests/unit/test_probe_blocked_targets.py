"""Blocked probe targets, whatever spells them: the IPv6 forms that embed a blocked IPv4 address,
the broadcast address, AWS's fd00:ec2::/64 service addresses, and the Lambda Runtime API endpoint
(``AWS_LAMBDA_RUNTIME_API``).

Every test goes through the real engine (the last ones through the CLI): the probe must answer
``blocked_target`` before it opens any connection to the address.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap

import pytest
from probe_servers import Target, http, redirect
from uptime_relay.config import Check
from uptime_relay.probe import run_checks
from uptime_relay_tools.cli import main

RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"


def one(check: Check, **kwargs):
    return run_checks([check], **kwargs)[0]


def chk(url: str, **kwargs) -> Check:
    kwargs.setdefault("timeout_s", 5.0)
    kwargs.setdefault("retries", 0)
    return Check(name=kwargs.pop("name", "api"), url=url, **kwargs)


@pytest.fixture
def opened(monkeypatch):
    """Every (host, port) the engine opens a connection to."""
    seen: list[tuple[str, int]] = []
    real = asyncio.open_connection

    async def open_connection(host, port, **kwargs):
        seen.append((host, port))
        return await real(host, port, **kwargs)

    monkeypatch.setattr("uptime_relay.probe.engine.asyncio.open_connection", open_connection)
    return seen


@pytest.fixture
def runtime_api(monkeypatch):
    """A listener standing in for the Lambda Runtime API, named by AWS_LAMBDA_RUNTIME_API."""
    with Target(default=http(200, '{"event": "the next invocation"}')) as api:
        monkeypatch.setenv(RUNTIME_API, f"127.0.0.1:{api.port}")
        yield api


# ------------------------------------------------------------- IPv6 spellings of blocked IPv4
EMBEDDED_SPELLINGS = [
    # 169.254.169.254, the cloud metadata address
    pytest.param("64:ff9b::a9fe:a9fe", id="nat64-metadata"),
    pytest.param("64:ff9b::169.254.169.254", id="nat64-dotted-metadata"),
    pytest.param("64:ff9b:1::a9fe:a9fe", id="nat64-local-use-metadata"),
    pytest.param("64:ff9b:1:ffff::a9fe:a9fe", id="nat64-local-use-subprefix-metadata"),
    pytest.param("::a9fe:a9fe", id="ipv4-compatible-metadata"),
    pytest.param("::169.254.169.254", id="ipv4-compatible-dotted-metadata"),
    pytest.param("::ffff:0:a9fe:a9fe", id="siit-metadata"),
    pytest.param("2002:a9fe:a9fe::", id="6to4-metadata"),
    pytest.param("2002:a9fe:a9fe:1:2:3:4:5", id="6to4-host-metadata"),
    pytest.param("2001:0:a9fe:a9fe::", id="teredo-server-metadata"),
    pytest.param("2001:0:4136:e378:8000:63bf:5601:5601", id="teredo-client-metadata"),
    # the other blocked IPv4 ranges: 0.0.0.0/8, multicast, broadcast
    pytest.param("64:ff9b::e000:1", id="nat64-multicast"),
    pytest.param("64:ff9b::ffff:ffff", id="nat64-broadcast"),
    pytest.param("64:ff9b::1:2", id="nat64-zero-net"),
    pytest.param("::ffff:255.255.255.255", id="ipv4-mapped-broadcast"),
    pytest.param("::224.0.0.251", id="ipv4-compatible-multicast"),
    pytest.param("::ffff:0:239.1.1.1", id="siit-multicast"),
    pytest.param("2002:ffff:ffff::", id="6to4-broadcast"),
    pytest.param("2002:a9fe:1::", id="6to4-link-local"),
    pytest.param("2001:0:e000:1::1", id="teredo-server-multicast"),
]


@pytest.mark.parametrize("address", EMBEDDED_SPELLINGS)
def test_an_ipv6_spelling_of_a_blocked_ipv4_address_is_refused_before_connecting(address, opened):
    """GIVEN a check URL naming an IPv6 address that embeds a blocked IPv4 address (NAT64,
    IPv4-compatible, IPv4-mapped, SIIT, 6to4, Teredo)
    WHEN it is probed
    THEN it fails with blocked_target in the dns phase, once, and nothing is connected to."""
    result = one(chk(f"http://[{address}]/latest/meta-data/"))
    assert (result.reason, result.phase, result.attempts) == ("blocked_target", "dns", 1), result.error
    assert opened == []


@pytest.mark.parametrize("address", ["fd00:ec2::23", "fd00:ec2::253", "fd00:ec2::123"])
def test_the_ipv6_addresses_of_aws_link_local_services_are_refused(address, opened):
    """GIVEN a check URL naming an AWS service address in fd00:ec2::/64 (EKS Pod Identity
    credentials ::23, DNS ::253, time ::123; the metadata service ::254 already was)
    WHEN it is probed THEN it fails with blocked_target, as their 169.254 counterparts do."""
    result = one(chk(f"http://[{address}]/v1/credentials"))
    assert (result.reason, result.phase) == ("blocked_target", "dns"), result.error
    assert opened == []


@pytest.mark.parametrize("address", ["255.255.255.255", "0xffffffff", "4294967295"])
def test_the_broadcast_address_is_refused(address, opened):
    """GIVEN a check URL naming the limited broadcast address (in any spelling the resolver reads)
    WHEN it is probed THEN it fails with blocked_target and nothing is connected to."""
    result = one(chk(f"http://{address}/"))
    assert (result.reason, result.phase) == ("blocked_target", "dns"), result.error
    assert "broadcast" in result.error
    assert opened == []


@pytest.mark.parametrize("host", ["[fe80::1%25eth0]", "[64:ff9b::a9fe:a9fe%25]", "[::a9fe:a9fe%251]"])
def test_a_zone_on_a_blocked_ipv6_literal_does_not_hide_it(host, opened):
    """GIVEN a check URL naming a blocked IPv6 literal with a zone (``%25eth0``, even an empty one)
    WHEN it is probed THEN it fails with blocked_target, not with an error or a connection."""
    result = one(chk(f"http://{host}/"))
    assert (result.reason, result.phase) == ("blocked_target", "dns"), result.error
    assert opened == []


@pytest.mark.parametrize("host", ["fe80::1%", "64:ff9b::a9fe:a9fe%eth0"])
def test_a_zone_on_a_blocked_tcp_host_does_not_hide_it(host, opened):
    """GIVEN a tcp check whose host is a blocked IPv6 literal with a zone (even an empty one)
    WHEN it is probed THEN it fails with blocked_target."""
    result = one(Check(name="db", tcp_host=host, tcp_port=5432, timeout_s=5.0, retries=0))
    assert (result.reason, result.phase) == ("blocked_target", "dns"), result.error
    assert opened == []


def test_a_name_resolving_to_a_nat64_spelling_of_the_metadata_address_is_refused(opened):
    """GIVEN a name whose DNS answer (e.g. from DNS64) is 64:ff9b::a9fe:a9fe
    WHEN it is probed THEN it is refused, naming the IPv4 address it stands for."""

    async def dns64(host, port):
        return [(socket.AF_INET6, "64:ff9b::a9fe:a9fe")]

    result = one(chk("http://metadata.example.test/"), resolver=dns64)
    assert result.reason == "blocked_target"
    assert "metadata.example.test (64:ff9b::a9fe:a9fe)" in result.error
    assert "169.254.169.254" in result.error
    assert opened == []


def test_a_redirect_to_a_6to4_spelling_of_the_metadata_address_is_refused(opened):
    """GIVEN a site that redirects to a 6to4 spelling of 169.254.169.254
    WHEN it is probed THEN the hop is refused before any connection to it."""
    with Target(routes={"/": redirect("http://[2002:a9fe:a9fe::1]/latest/meta-data/iam")}) as site:
        result = one(chk(site.url("/")))
    assert (result.reason, result.phase) == ("blocked_target", "dns")
    assert "redirect" in result.error
    assert [host for host, _port in opened] == ["127.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://240.0.0.1/",  # reserved 240.0.0.0/4: some networks route it as private space
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        "http://[::1]/",  # loopback, not an IPv4-compatible 0.0.0.1
    ],
)
def test_addresses_that_only_look_like_blocked_ones_are_probed(url, monkeypatch):
    """GIVEN an address outside the blocked ranges (also once its embedded IPv4 is unwrapped)
    WHEN it is probed THEN the engine connects to it (here: a refusing stand-in, no packet sent)."""
    opened = []

    async def refuse(host, port, **kwargs):
        opened.append(host)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr("uptime_relay.probe.engine.asyncio.open_connection", refuse)
    result = one(chk(url))
    assert (result.reason, opened) == ("connect_refused", [url.split("/")[2].strip("[]")]), result.error


# ------------------------------------------------------------------ the Lambda Runtime API
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "LocalHost",
        "127.1",
        "127.0.1",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "2130706433",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::ffff:0:127.0.0.1]",
        "[64:ff9b::127.0.0.1]",
        "[::1]",
        "127.0.0.2",
    ],
)
@pytest.mark.parametrize("path", ["/2018-06-01/runtime/invocation/next", "/2020-01-01/extension/event/next"])
def test_the_lambda_runtime_api_is_refused_in_every_spelling(host, path, runtime_api, opened):
    """GIVEN AWS_LAMBDA_RUNTIME_API names a loopback host:port (as in Lambda)
    WHEN a check targets that port on loopback, however the host is spelled
    THEN it fails with blocked_target and the runtime API receives nothing."""
    result = one(chk(f"http://{host}:{runtime_api.port}{path}"))
    assert (result.reason, result.phase) == ("blocked_target", "dns"), result.error
    assert "Lambda Runtime API" in result.error
    assert opened == [] and runtime_api.connections == 0 and runtime_api.requests == []


def test_a_tcp_check_of_the_runtime_api_port_is_refused(runtime_api, opened):
    """GIVEN AWS_LAMBDA_RUNTIME_API WHEN a tcp check names its host:port THEN blocked_target."""
    result = one(Check(name="db", tcp_host="localhost", tcp_port=runtime_api.port, timeout_s=5.0))
    assert result.reason == "blocked_target", result.error
    assert opened == [] and runtime_api.connections == 0


@pytest.mark.parametrize("path", ["/2018-06-01/runtime/invocation/next", "/2020-01-01/extension/event/next"])
@pytest.mark.parametrize("spelled", ["127.0.0.1", "localhost", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_a_site_redirecting_the_probe_to_the_runtime_api_is_refused(spelled, path, runtime_api, opened):
    """GIVEN a probed site that redirects to the Lambda Runtime API (or its extensions API)
    WHEN it is probed
    THEN the probe refuses the hop with blocked_target and the runtime API receives no request."""
    hop = f"http://{spelled}:{runtime_api.port}{path}"
    with Target(routes={"/health": redirect(hop)}) as site:
        result = one(chk(site.url("/health")))
        assert site.hits["/health"] == 1
    assert (result.reason, result.phase) == ("blocked_target", "dns"), result.error
    assert "reached through a redirect" in result.error
    assert opened == [("127.0.0.1", site.port)]
    assert runtime_api.connections == 0 and runtime_api.requests == []


def test_loopback_stays_allowed_outside_the_runtime_api_endpoint(runtime_api):
    """GIVEN AWS_LAMBDA_RUNTIME_API names one loopback port
    WHEN a check targets another loopback port THEN it is probed as usual."""
    with Target(default=http(200, "ok")) as internal:
        result = one(chk(internal.url("/health", host="localhost")))
    assert result.ok, result.error


def test_without_the_runtime_api_variable_its_port_is_an_ordinary_loopback_target(runtime_api, monkeypatch):
    """GIVEN no AWS_LAMBDA_RUNTIME_API (outside Lambda: the CLI, the local stack)
    WHEN a check targets that loopback port THEN it is probed (the variable is read at probe time)."""
    monkeypatch.delenv(RUNTIME_API)
    result = one(chk(runtime_api.url("/2018-06-01/runtime/invocation/next")))
    assert result.ok, result.error
    assert runtime_api.hits["/2018-06-01/runtime/invocation/next"] == 1


# ------------------------------------------------------------------------------------ the CLI
@pytest.mark.parametrize(
    "url",
    ["http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "http://255.255.255.255/", "runtime-api"],
)
def test_check_json_reports_blocked_target_for_a_blocked_url(url, runtime_api, tmp_path, capsys):
    """GIVEN a config whose check URL is a blocked spelling
    WHEN `uptime-relay check --json` runs
    THEN the check's line says reason blocked_target and the run exits 1."""
    if url == "runtime-api":
        url = f"http://0x7f000001:{runtime_api.port}/2018-06-01/runtime/invocation/next"
    config = tmp_path / "uptime.yaml"
    config.write_text(
        textwrap.dedent(f"""
        checks:
          - name: meta
            url: "{url}"
        """)
    )
    code = main(["check", str(config), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (doc["check"], doc["ok"], doc["reason"]) == ("meta", False, "blocked_target")
    assert runtime_api.connections == 0
