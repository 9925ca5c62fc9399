"""Addresses a probe must never connect to: link-local and cloud metadata, 0.0.0.0/8, multicast.

Checked on the addresses a name resolves to (not on the name), before connecting, on every
redirect hop. Loopback and private ranges are allowed: internal endpoints are real targets.
"""

from __future__ import annotations

import functools
import ipaddress

_ZERO_NET = ipaddress.ip_network("0.0.0.0/8")
_AWS_IPV6_METADATA = ipaddress.ip_address("fd00:ec2::254")


@functools.lru_cache(maxsize=4096)
def blocked_reason(address: str) -> str | None:
    """Why ``address`` (an IP literal) is refused, or None when it may be probed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip == _AWS_IPV6_METADATA:
            return "cloud metadata address"
        mapped = ip.ipv4_mapped
        if mapped is not None:
            ip = mapped
    if ip.is_link_local:
        return "link-local / cloud metadata address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _ZERO_NET):
        return "unspecified (0.0.0.0/8) address"
    return None
