"""TLS trust and certificate expiry for probes.

Trust, first match wins: the check's own ``ca_file``; else the bundle named by ``SSL_CERT_FILE``
or ``REQUESTS_CA_BUNDLE``; else the system store. ``verify_tls: false`` skips verification
(the expiry is still read). Contexts are built once per (verify, bundle) and reused.

``cert_days_left`` is the earliest ``notAfter`` in the chain the server presented: on Python 3.13+
(the Lambda runtime) from the verified chain (``SSLObject.get_verified_chain``); on older Pythons
from the leaf certificate only (``getpeercert``; with verification off the leaf is decoded with
``cryptography`` when it is installed, else the expiry is unknown).
"""

from __future__ import annotations

import functools
import os
import ssl
from datetime import datetime
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
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__


def cert_days_left(ssl_object: Any, now: datetime) -> float | None:
    """Days until the earliest certificate in the presented chain expires (negative: expired)."""
    if ssl_object is None:
        return None
    expiries = _chain_expiries(ssl_object)
    if not expiries:
        return None
    return round((min(expiries) - now.timestamp()) / 86400.0, 2)


def _chain_expiries(ssl_object: Any) -> list[float]:
    verified = ssl_object.context.verify_mode != ssl.CERT_NONE
    getter = getattr(ssl_object, "get_verified_chain" if verified else "get_unverified_chain", None)
    out: list[float] = []
    if getter is not None:  # Python 3.13+
        try:
            for cert in getter() or ():
                not_after = cert.get_info().get("notAfter")
                if not_after:
                    out.append(ssl.cert_time_to_seconds(not_after))
        except (ssl.SSLError, ValueError, AttributeError):
            out = []
    if out:
        return out
    peer = ssl_object.getpeercert()
    if peer and peer.get("notAfter"):
        return [ssl.cert_time_to_seconds(peer["notAfter"])]
    der = ssl_object.getpeercert(binary_form=True)
    return [t] if der and (t := _der_not_after(der)) is not None else []


def _der_not_after(der: bytes) -> float | None:
    try:
        from cryptography import x509
    except ImportError:  # not in the Lambda layer: expiry unknown for unverified leaf-only reads
        return None
    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
    except ValueError:
        return None
