"""TLS trust and certificate expiry for probes.

Trust, first match wins: the check's own ``ca_file``; else the bundle named by ``SSL_CERT_FILE``
or ``REQUESTS_CA_BUNDLE``; else the system store. ``verify_tls: false`` skips verification
(the expiry is still read). Contexts are built once per (verify, bundle) and reused.

``cert_days_left`` is the earliest ``notAfter`` in the chain the server presented: on Python 3.13+
(the Lambda runtime) from the verified chain (``get_verified_chain``; the unverified one with
``verify_tls: false``); on older Pythons from the leaf certificate only
(``getpeercert(binary_form=True)``). Certificates are DER bytes; ``notAfter`` is read by a small
DER walk, so no third-party package is needed.
"""

from __future__ import annotations

import functools
import os
import ssl
from datetime import UTC, datetime
from typing import Any


class TlsSetupError(Exception):
    """The trust store could not be loaded (message names the file)."""


def trust_bundle(ca_file: str | None, environ: Any = None) -> str | None:
    env = os.environ if environ is None else environ
    return ca_file or env.get("SSL_CERT_FILE") or env.get("REQUESTS_CA_BUNDLE") or None


def client_context(verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    return _context(bool(verify), trust_bundle(ca_file) if verify else None)


@functools.lru_cache(maxsize=64)
def _context(verify: bool, bundle: str | None) -> ssl.SSLContext:
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        try:
            ctx = ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError(f"cannot load CA bundle {bundle}: {_why(exc)}") from None
        # Python 3.13 turns on X509_STRICT by default; browsers, curl and blackbox_exporter do not,
        # and a prober should not page over a missing Authority Key Identifier.
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__


def cert_days_left(ssl_object: Any, now: datetime) -> float | None:
    """Days until the earliest certificate in the presented chain expires (negative: expired)."""
    if ssl_object is None:
        return None
    expiries = [t for der in presented_chain(ssl_object) if (t := der_not_after(der)) is not None]
    if not expiries:
        return None
    return round((min(expiries) - now.timestamp()) / 86400.0, 2)


def presented_chain(ssl_object: Any) -> list[bytes]:
    """DER certificates: the chain on Python 3.13+ (verified when verifying), else the leaf only."""
    verified = ssl_object.context.verify_mode != ssl.CERT_NONE
    getter = getattr(ssl_object, "get_verified_chain" if verified else "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = [bytes(c) for c in getter() or () if isinstance(c, bytes | bytearray)]
        except (ssl.SSLError, ValueError):
            chain = []
        if chain:
            return chain
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def der_not_after(der: bytes) -> float | None:
    """``notAfter`` (epoch seconds) of a DER X.509 certificate, read with a minimal DER walk:
    Certificate -> tbsCertificate -> [version] serial signature issuer validity(notBefore, notAfter)."""
    try:
        _tag, start, _end = _tlv(der, 0)  # Certificate
        _tag, pos, _end = _tlv(der, start)  # tbsCertificate
        tag, _start, end = _tlv(der, pos)
        if tag == 0xA0:  # explicit [0] version
            pos = end
        for _ in range(3):  # serialNumber, signature, issuer
            _tag, _start, pos = _tlv(der, pos)
        tag, validity, _end = _tlv(der, pos)
        if tag != 0x30:
            return None
        _tag, _start, after = _tlv(der, validity)  # notBefore
        tag, start, end = _tlv(der, after)  # notAfter
        text = der[start:end].decode("ascii")
    except (IndexError, ValueError, UnicodeDecodeError):
        return None
    return _asn1_time(tag, text)


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _asn1_time(tag: int, text: str) -> float | None:
    if not text.endswith("Z"):
        return None
    digits = text[:-1]
    if tag == 0x17 and len(digits) == 12:  # UTCTime YYMMDDHHMMSS (RFC 5280: 50-99 -> 19xx)
        yy = int(digits[:2])
        year, rest = (1900 + yy if yy >= 50 else 2000 + yy), digits[2:]
    elif tag == 0x18 and len(digits) == 14:  # GeneralizedTime YYYYMMDDHHMMSS
        year, rest = int(digits[:4]), digits[4:]
    else:
        return None
    try:
        moment = datetime(
            year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:10]), tzinfo=UTC
        )
    except ValueError:
        return None
    return moment.timestamp()
