"""Fuzz the blocked-address rule (``probe.targets.blocked_reason``), the engine that applies it to
every address it would connect to, and ``uptime-relay check --json``.

Property: an address is blocked iff it, or an IPv4 address it embeds (IPv4-mapped, IPv4-compatible,
SIIT, NAT64, 6to4, Teredo), is in a blocked range, or it is the Lambda Runtime API endpoint named
by ``AWS_LAMBDA_RUNTIME_API`` on its port. The rule never raises, whatever the address, the port or
the variable's value. The oracle below is written from the RFCs, apart from the code under test.
"""

from __future__ import annotations

import io
import json
import os
import socket
from contextlib import contextmanager, redirect_stdout
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest
from bounds import FUZZ, within_bounds
from hypothesis import example, given
from hypothesis import strategies as st
from uptime_relay.config import Check
from uptime_relay.probe import run_checks
from uptime_relay.probe.targets import blocked_reason
from uptime_relay_tools.cli import main

RUNTIME_API = "AWS_LAMBDA_RUNTIME_API"

BLOCKED_IPV4 = [ip_network(n) for n in ("169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32")]
BLOCKED_IPV6 = [ip_network(n) for n in ("fe80::/10", "fd00:ec2::/64", "ff00::/8", "::/128")]
# Forms with the IPv4 address in the last 32 bits (RFC 4291 mapped and compatible, RFC 2765 SIIT,
# RFC 6052 NAT64 well-known prefix, RFC 8215 local-use prefix).
LOW_32_FORMS = {
    "mapped": ip_network("::ffff:0:0/96"),
    "siit": ip_network("::ffff:0:0:0/96"),
    "nat64": ip_network("64:ff9b::/96"),
    "nat64-local": ip_network("64:ff9b:1::/48"),
    "compatible": ip_network("::/96"),
}
SIX_TO_FOUR = ip_network("2002::/16")  # RFC 3056: the IPv4 address in bits 16-47
TEREDO = ip_network("2001::/32")  # RFC 4380: server in bits 32-63, client (inverted) in bits 96-127


def embedded(address) -> list[IPv4Address]:
    if address.version == 4:
        return []
    value = int(address)
    found = [
        IPv4Address(value & 0xFFFFFFFF)
        for name, net in LOW_32_FORMS.items()
        if address in net
        and not (name == "compatible" and address in (IPv6Address("::"), IPv6Address("::1")))
    ]
    if address in SIX_TO_FOUR:
        found.append(IPv4Address((value >> 80) & 0xFFFFFFFF))
    if address in TEREDO:
        found += [IPv4Address((value >> 64) & 0xFFFFFFFF), IPv4Address(~value & 0xFFFFFFFF)]
    return found


def in_blocked_range(address) -> bool:
    return any(address in net for net in (BLOCKED_IPV4 if address.version == 4 else BLOCKED_IPV6))


def expected_blocked(address, port: int, runtime: tuple | None) -> bool:
    candidates = [address, *embedded(address)]
    if any(in_blocked_range(c) for c in candidates):
        return True
    if runtime is None or port != runtime[1]:
        return False
    host = runtime[0]
    host_forms = [host, *embedded(host)]
    if any(h.is_loopback for h in host_forms):
        return any(c.is_loopback for c in candidates)
    return any(c in host_forms for c in candidates)


# ------------------------------------------------------------------------------- strategies
ipv4s = st.one_of(
    st.ip_addresses(v=4),
    *(
        st.ip_addresses(network=n)
        for n in ("169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "127.0.0.0/8", "10.0.0.0/8")
    ),
)


@st.composite
def ipv6_embedding(draw):
    """An IPv6 address carrying an IPv4 address in one of the forms (other bits arbitrary)."""
    ipv4 = int(draw(ipv4s))
    form = draw(st.sampled_from(["mapped", "siit", "nat64", "nat64-local", "compatible", "6to4", "teredo"]))
    if form in LOW_32_FORMS:
        net = LOW_32_FORMS[form]
        middle = draw(st.integers(0, 2 ** (96 - net.prefixlen) - 1)) if net.prefixlen < 96 else 0
        return IPv6Address(int(net.network_address) | middle << 32 | ipv4)
    if form == "6to4":
        return IPv6Address(0x2002 << 112 | ipv4 << 80 | draw(st.integers(0, 2**80 - 1)))
    server, client = (ipv4, draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        server, client = client, ~ipv4 & 0xFFFFFFFF
    return IPv6Address(0x20010000 << 96 | server << 64 | draw(st.integers(0, 2**32 - 1)) << 32 | client)


addresses = st.one_of(
    ipv4s,
    st.ip_addresses(v=6),
    ipv6_embedding(),
    st.sampled_from(
        [ip_address(a) for a in ("::", "::1", "fd00:ec2::254", "fd00:ec2::23", "fd00:ec2:0:1::23", "fe80::1")]
    ),
)
runtime_hosts = st.one_of(st.ip_addresses(network="127.0.0.0/8"), st.just(IPv6Address("::1")), addresses)


@st.composite
def probed(draw):
    """(address, port, runtime endpoint or None), the port often the endpoint's."""
    runtime = draw(st.none() | st.tuples(runtime_hosts, st.integers(1, 65535)))
    ports = st.integers(0, 65535)
    port = draw(ports if runtime is None else st.one_of(st.just(runtime[1]), ports))
    if runtime is not None and draw(st.booleans()):
        address = draw(st.one_of(st.just(runtime[0]), st.ip_addresses(network="127.0.0.0/8")))
    else:
        address = draw(addresses)
    return address, port, runtime


def runtime_value(runtime) -> str | None:
    if runtime is None:
        return None
    host, port = runtime
    return f"[{host}]:{port}" if host.version == 6 else f"{host}:{port}"


@contextmanager
def runtime_api(value: str | None):
    before = os.environ.pop(RUNTIME_API, None)
    if value is not None:
        os.environ[RUNTIME_API] = value
    try:
        yield
    finally:
        os.environ.pop(RUNTIME_API, None)
        if before is not None:
            os.environ[RUNTIME_API] = before


# ------------------------------------------------------------------------------- the rule
@FUZZ
@given(probed())
@example((ip_address("64:ff9b::a9fe:a9fe"), 80, None))
@example((ip_address("64:ff9b:1::a9fe:a9fe"), 80, None))
@example((ip_address("::a9fe:a9fe"), 80, None))
@example((ip_address("::ffff:a9fe:a9fe"), 80, None))
@example((ip_address("::ffff:0:a9fe:a9fe"), 80, None))
@example((ip_address("2002:a9fe:a9fe::"), 80, None))
@example((ip_address("2001:0:4136:e378:8000:63bf:5601:5601"), 80, None))
@example((ip_address("255.255.255.255"), 80, None))
@example((ip_address("127.0.0.1"), 9001, (ip_address("127.0.0.1"), 9001)))
@example((ip_address("::ffff:127.0.0.1"), 9001, (ip_address("127.0.0.1"), 9001)))
@example((ip_address("::1"), 9001, (ip_address("127.0.0.1"), 9001)))
@example((ip_address("::1"), 80, None))
@example((ip_address("240.0.0.1"), 80, None))
def test_an_address_is_blocked_iff_it_or_its_embedded_ipv4_is_in_a_blocked_range_or_the_runtime_api(case):
    address, port, runtime = case
    with runtime_api(runtime_value(runtime)):
        why = within_bounds(lambda: blocked_reason(address, port), seconds=2)
    assert (why is not None) == expected_blocked(address, port, runtime), (address, port, runtime, why)
    assert why is None or (isinstance(why, str) and why)


# Any text an environment variable can hold, and text shaped like host:port.
env_values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=80) | (
    st.from_regex(r"\[?[0-9a-fA-F:.x]{0,45}\]?:[0-9]{0,7}", fullmatch=True)
)


@FUZZ
@given(env_values, addresses)
@example("127.0.0.1:" + "9" * 5000, ip_address("127.0.0.1"))
@example("[::1]:9001", ip_address("127.0.0.1"))
@example("localhost:9001", ip_address("127.0.0.1"))
@example(":9001", ip_address("127.0.0.1"))
@example("127.0.0.1:٩٠٠١", ip_address("127.0.0.1"))
def test_any_runtime_api_value_never_makes_the_rule_raise(value, address):
    with runtime_api(value):
        why = within_bounds(lambda: blocked_reason(address, 9001), seconds=2)
    assert why is None or isinstance(why, str)


# ------------------------------------------------------------------------------- the engine
def _family(address) -> int:
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


@FUZZ
@given(st.lists(addresses, min_size=1, max_size=4), st.sampled_from(["http", "tcp"]))
@example([ip_address("10.0.0.5"), ip_address("64:ff9b::a9fe:a9fe")], "http")
def test_the_engine_refuses_a_name_resolving_to_any_blocked_address_before_connecting(resolved, kind):
    opened: list[str] = []

    async def resolver(host, port):
        return [(_family(a), str(a)) for a in resolved]

    async def refuse(host, port, **kwargs):
        opened.append(host)
        raise ConnectionRefusedError(111, "refused")

    check = (
        Check(name="api", url="http://target.example.test:8080/", timeout_s=2.0, retries=0)
        if kind == "http"
        else Check(name="db", tcp_host="target.example.test", tcp_port=8080, timeout_s=2.0, retries=0)
    )
    with pytest.MonkeyPatch.context() as mp, runtime_api(None):
        mp.setattr("uptime_relay.probe.engine.asyncio.open_connection", refuse)
        result = within_bounds(lambda: run_checks([check], resolver=resolver)[0])
    blocked = any(expected_blocked(a, 8080, None) for a in resolved)
    assert (result.reason == "blocked_target") == blocked, (resolved, result.error)
    assert opened == ([] if blocked else [str(a) for a in resolved])


@FUZZ
@given(addresses, st.sampled_from(["", "%", "%eth0", "%1"]), st.integers(1, 65535))
@example(ip_address("fe80::1"), "%", 5432)
def test_the_engine_refuses_a_blocked_literal_host_whatever_its_zone(address, zone, port):
    opened: list[str] = []

    async def refuse(host, port, **kwargs):
        opened.append(host)
        raise ConnectionRefusedError(111, "refused")

    host = f"{address}{zone if address.version == 6 else ''}"
    check = Check(name="db", tcp_host=host, tcp_port=port, timeout_s=2.0, retries=0)
    with pytest.MonkeyPatch.context() as mp, runtime_api(None):
        mp.setattr("uptime_relay.probe.engine.asyncio.open_connection", refuse)
        result = within_bounds(lambda: run_checks([check])[0])
    blocked = expected_blocked(address, port, None)
    assert (result.reason == "blocked_target") == blocked, (host, result.error)
    assert opened == ([] if blocked else [host])


# ------------------------------------------------------------------------------- the CLI
def _spellings(ipv4: IPv4Address) -> list[str]:
    """How a URL may spell an IPv4 address; the OS resolver reads each as the address."""
    n = int(ipv4)
    a, b, c, d = ipv4.packed
    return [
        str(ipv4),
        str(n),
        hex(n),
        f"{a}.{b}.{c * 256 + d}",
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"0{a:o}.{b}.{c}.{d}",
    ]


blocked_hosts = st.one_of(
    st.ip_addresses(network="169.254.0.0/16").flatmap(lambda a: st.sampled_from(_spellings(a))),
    st.sampled_from(["255.255.255.255", "4294967295", "0xffffffff", "0.0.0.0", "224.0.0.1"]),
    ipv6_embedding().filter(lambda a: any(in_blocked_range(e) for e in embedded(a))).map(lambda a: f"[{a}]"),
)


@FUZZ
@given(host=blocked_hosts, port=st.integers(1, 65535))
@example(host="[64:ff9b::a9fe:a9fe]", port=80)
@example(host="[::ffff:0:a9fe:a9fe]", port=80)
@example(host="[2002:a9fe:a9fe::]", port=80)
@example(host="255.255.255.255", port=80)
def test_check_json_reports_blocked_target_for_every_spelling_of_a_blocked_address(
    host, port, tmp_path_factory
):
    config = tmp_path_factory.mktemp("cfg") / "uptime.yaml"
    config.write_text(f'checks:\n  - name: meta\n    url: "http://{host}:{port}/latest/meta-data/"\n')
    with runtime_api(None):
        code, out = within_bounds(lambda: _run_cli(["check", str(config), "--json"]))
    doc = json.loads(out)
    assert (code, doc["reason"]) == (1, "blocked_target"), doc


def _run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()
