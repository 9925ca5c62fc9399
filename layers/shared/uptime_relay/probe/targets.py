"""Addresses a probe must never connect to: one rule, :func:`blocked_reason`, on an address and port.

Blocked:

- IPv4: 169.254.0.0/16 (link-local, cloud metadata), 0.0.0.0/8, 224.0.0.0/4 (multicast) and
  255.255.255.255 (broadcast);
- IPv6: fe80::/10 (link-local), fd00:ec2::/64 (AWS's IPv6 counterparts of its 169.254 services:
  metadata fd00:ec2::254, DNS ::253, time ::123, EKS Pod Identity ::23), ff00::/8 (multicast) and
  ``::``;
- every IPv6 address that embeds a blocked IPv4 address: IPv4-mapped (``::ffff:0:0/96``),
  IPv4-compatible (``::/96`` but ``::`` and ``::1``), SIIT (``::ffff:0:0:0/96``), NAT64
  (``64:ff9b::/96``, and the local-use ``64:ff9b:1::/48`` with the IPv4 address in its last 32
  bits), 6to4 (``2002::/16``) and Teredo (``2001::/32``: its server or its de-obfuscated client);
- the Lambda Runtime API, ``AWS_LAMBDA_RUNTIME_API`` (``host:port``, read at every call, so the
  rule applies inside Lambda only; its extensions API is the same endpoint): every address that
  is, or embeds, its host on its port. A loopback host, or a name (``localhost``; not resolved),
  stands for every loopback address (127.0.0.0/8, ::1), as a loopback listener may answer on any.

Loopback and private ranges are otherwise allowed: internal endpoints are real targets. So is the
reserved 240.0.0.0/4 (some networks route it as private space).

The rule is on addresses, never on names: the engine calls it with each address a name resolves
to (the OS resolver reads ``127.1``, ``0x7f000001`` or ``2130706433`` as 127.0.0.1), before
connecting, on every redirect hop.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address

RUNTIME_API_ENV = "AWS_LAMBDA_RUNTIME_API"
RUNTIME_API_REASON = f"the Lambda Runtime API ({RUNTIME_API_ENV})"

_BLOCKED_IPV4 = (
    (ip_network("169.254.0.0/16"), "link-local / cloud metadata address"),
    (ip_network("0.0.0.0/8"), "unspecified (0.0.0.0/8) address"),
    (ip_network("224.0.0.0/4"), "multicast address"),
    (ip_network("255.255.255.255/32"), "broadcast address"),
)
_BLOCKED_IPV6 = (
    (ip_network("fe80::/10"), "link-local / cloud metadata address"),
    (ip_network("fd00:ec2::/64"), "cloud metadata / AWS service address"),
    (ip_network("ff00::/8"), "multicast address"),
    (ip_network("::/128"), "unspecified address"),
)
# (prefix, its length, form) of the forms carrying an IPv4 address in their last 32 bits.
_LOW_32_FORMS = (
    (int(IPv6Address("::ffff:0:0")), 96, "IPv4-mapped"),
    (int(IPv6Address("::ffff:0:0:0")), 96, "SIIT"),
    (int(IPv6Address("64:ff9b::")), 96, "NAT64"),
    (int(IPv6Address("64:ff9b:1::")), 48, "NAT64 (local-use prefix)"),
)
_U32 = 0xFFFFFFFF


def _embedded_ipv4(address: IPAddress) -> tuple[tuple[str, IPv4Address], ...]:
    """The IPv4 addresses ``address`` carries, each with the name of its form (none for IPv4)."""
    if isinstance(address, IPv4Address):
        return ()
    value = int(address)
    found = [
        (form, IPv4Address(value & _U32))
        for prefix, length, form in _LOW_32_FORMS
        if value >> (128 - length) == prefix >> (128 - length)
    ]
    if value >> 32 == 0 and value > 1:  # ::/96 but :: and ::1 (loopback)
        found.append(("IPv4-compatible", IPv4Address(value)))
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    return tuple(found)


def blocked_reason(address: IPAddress, port: int) -> str | None:
    """Why connecting to ``address`` on ``port`` is refused, or None when it may be probed."""
    embedded = _embedded_ipv4(address)
    why = _range_reason(address)
    if why:
        return why
    for form, ipv4 in embedded:
        why = _range_reason(ipv4)
        if why:
            return f"{why} ({form} form of {ipv4})"
    endpoint = _runtime_api(os.environ.get(RUNTIME_API_ENV, ""))
    if endpoint is not None and endpoint.matches(address, port, embedded):
        return RUNTIME_API_REASON
    return None


def _range_reason(address: IPAddress) -> str | None:
    ranges = _BLOCKED_IPV4 if isinstance(address, IPv4Address) else _BLOCKED_IPV6
    for network, why in ranges:
        if address in network:
            return why
    return None


@dataclass(frozen=True)
class _Endpoint:
    port: int
    addresses: frozenset[IPAddress]  # the host and the IPv4 it embeds (none for a name)
    loopback: bool  # the host is (or embeds) a loopback address, or is a name: match every loopback

    def matches(self, address: IPAddress, port: int, embedded: tuple[tuple[str, IPv4Address], ...]) -> bool:
        if port != self.port:
            return False
        candidates = (address, *(ipv4 for _form, ipv4 in embedded))
        if self.loopback:
            return any(candidate.is_loopback for candidate in candidates)
        return any(candidate in self.addresses for candidate in candidates)


@functools.lru_cache(maxsize=16)
def _runtime_api(value: str) -> _Endpoint | None:
    """The endpoint ``AWS_LAMBDA_RUNTIME_API`` names (``127.0.0.1:9001``), None when unset or not
    ``host:port``."""
    host, sep, port_text = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5):
        return None
    port = int(port_text)
    if not 0 < port < 65536:
        return None
    try:
        address = ip_address(host)
    except ValueError:  # a name (localhost): the runtime API is served inside the sandbox
        return _Endpoint(port, frozenset(), loopback=True)
    addresses = frozenset((address, *(ipv4 for _form, ipv4 in _embedded_ipv4(address))))
    return _Endpoint(port, addresses, loopback=any(a.is_loopback for a in addresses))
