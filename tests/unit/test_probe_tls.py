"""HTTPS probes against in-process TLS servers with a trustme CA: trust, expiry, verification."""

from __future__ import annotations

import ssl
import sys
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from probe_servers import Target, http
from uptime_relay import clock
from uptime_relay.config import Check, Expect
from uptime_relay.probe import run_checks
from uptime_relay.probe.tls import client_context, der_not_after


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(autouse=True)
def no_ambient_bundle(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)


def https(url: str, **kwargs) -> Check:
    kwargs.setdefault("timeout_s", 5.0)
    kwargs.setdefault("retries", 0)
    return Check(name=kwargs.pop("name", "secure"), url=url, **kwargs)


def one(check: Check):
    return run_checks([check])[0]


def leaf(ca, *, days: float):
    now = datetime.now(UTC)
    return ca.issue_cert(
        "127.0.0.1", "localhost", not_before=now - timedelta(days=30), not_after=now + timedelta(days=days)
    )


def test_a_trusted_certificate_is_ok_and_every_phase_is_timed(ca, ca_file):
    with Target(default=http(200, "ok"), tls=leaf(ca, days=90)) as t:
        result = one(https(t.url("/"), ca_file=ca_file))
    assert (result.ok, result.status_code) == (True, 200), result.error
    timings = result.to_json()["timings_ms"]
    assert all(timings[key] is not None for key in ("dns", "connect", "tls", "ttfb", "transfer", "total"))
    assert 89 <= result.cert_days_left <= 90


def test_the_ssl_cert_file_and_requests_ca_bundle_variables_are_honoured(ca, ca_file, monkeypatch):
    with Target(default=http(200, "ok"), tls=leaf(ca, days=90)) as t:
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)
        assert one(https(t.url("/"))).ok
        monkeypatch.delenv("SSL_CERT_FILE")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
        assert one(https(t.url("/"))).ok


def test_an_unknown_issuer_is_a_tls_error_under_the_system_store(ca):
    with Target(default=http(200, "ok"), tls=leaf(ca, days=90)) as t:
        result = one(https(t.url("/")))
        assert t.requests == []  # nothing was sent over an untrusted connection
    assert (result.ok, result.reason, result.phase) == (False, "tls_error", "tls")
    assert "certificate" in result.error
    assert result.to_json()["timings_ms"]["tls"] is None


def test_verify_tls_false_accepts_an_untrusted_certificate_and_still_reads_its_expiry(ca):
    with Target(default=http(200, "ok"), tls=leaf(ca, days=40)) as t:
        result = one(https(t.url("/"), verify_tls=False))
    assert result.ok, result.error
    assert 39 <= result.cert_days_left <= 40


def test_a_certificate_close_to_expiry_is_cert_expiring(ca, ca_file):
    with Target(default=http(200, "ok"), tls=leaf(ca, days=5)) as t:
        result = one(https(t.url("/"), ca_file=ca_file, expect=Expect(cert_min_days=14)))
    assert (result.ok, result.reason, result.phase, result.status_code) == (
        False,
        "cert_expiring",
        "expect",
        200,
    )
    assert 4 <= result.cert_days_left <= 5
    assert "minimum 14" in result.error


def test_cert_days_left_follows_the_installed_clock(ca, ca_file):
    class Later:
        def now(self):
            return datetime.now(UTC) + timedelta(days=20)

        def sleep(self, seconds):
            raise AssertionError("the probe never sleeps")

    previous = clock.install(Later())
    try:
        with Target(default=http(200, "ok"), tls=leaf(ca, days=30)) as t:
            result = one(https(t.url("/"), ca_file=ca_file, expect=Expect(cert_min_days=14)))
    finally:
        clock.install(previous)
    assert result.reason == "cert_expiring"
    assert 9 <= result.cert_days_left <= 10


def test_an_expired_certificate_is_a_tls_error(ca, ca_file):
    now = datetime.now(UTC)
    expired = ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=60), not_after=now - timedelta(days=1)
    )
    with Target(default=http(200, "ok"), tls=expired) as t:
        result = one(https(t.url("/"), ca_file=ca_file))
    assert result.reason == "tls_error"
    assert "expired" in result.error


def test_a_certificate_for_another_name_is_a_tls_error(ca, ca_file):
    with Target(default=http(200, "ok"), tls=ca.issue_cert("other.example")) as t:
        result = one(https(t.url("/"), ca_file=ca_file))
    assert result.reason == "tls_error"
    assert "mismatch" in result.error or "match" in result.error


def test_a_missing_ca_file_is_a_tls_error_in_setup(ca):
    with Target(default=http(200, "ok"), tls=leaf(ca, days=90)) as t:
        result = one(https(t.url("/"), ca_file="/nonexistent/ca.pem"))
        assert t.connections == 0
    assert (result.reason, result.phase) == ("tls_error", "setup")
    assert "/nonexistent/ca.pem" in result.error


def test_a_plain_http_server_on_an_https_url_is_a_tls_error(ca_file):
    answer = http(400, "The plain HTTP request was sent to HTTPS port")
    with Target(banner=answer) as t:
        result = one(https(t.url("/").replace("http://", "https://"), ca_file=ca_file))
    assert (result.reason, result.phase) == ("tls_error", "tls")


def test_a_redirect_from_http_to_https_measures_tls_on_the_second_hop(ca, ca_file):
    with (
        Target(default=http(200, "secure"), tls=leaf(ca, days=90)) as secure,
        Target(default=http(301, "", {"Location": secure.url("/")})) as plain,
    ):
        result = one(https(plain.url("/"), ca_file=ca_file, expect=Expect(body_contains="secure")))
    assert result.ok, result.error
    assert result.to_json()["timings_ms"]["tls"] is not None
    assert result.cert_days_left is not None


def test_tls_contexts_are_built_once_per_trust_setting(ca_file):
    assert client_context(True, ca_file) is client_context(True, ca_file)
    assert client_context(False) is not client_context(True, ca_file)


# ------------------------------------------------------------------------------------ the chain
def _chain_certs(intermediate_days: int, leaf_days: int):
    """root -> intermediate (expiring in ``intermediate_days``) -> leaf for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def make(subject, issuer, key, signer, days, ca, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
            )
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = make("test root", "test root", root_key, root_key, 3650, True)
    inter = make("test intermediate", "test root", inter_key, root_key, intermediate_days, True)
    leaf_cert = make("leaf", "test intermediate", leaf_key, inter_key, leaf_days, False, "127.0.0.1")

    def pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem(root), key_pem + pem(leaf_cert) + pem(inter)


class _PemLeaf:
    """Quacks like trustme.LeafCert for Target: configures a server context from PEM bytes."""

    def __init__(self, chain_pem: bytes, tmp_path):
        self.path = tmp_path / "server.pem"
        self.path.write_bytes(chain_pem)

    def configure_cert(self, ctx):
        ctx.load_cert_chain(str(self.path))


def test_cert_days_left_is_the_earliest_expiry_in_the_chain_on_python_313(tmp_path):
    root_pem, server_pem = _chain_certs(intermediate_days=10, leaf_days=60)
    (tmp_path / "root.pem").write_bytes(root_pem)
    with Target(default=http(200, "ok"), tls=_PemLeaf(server_pem, tmp_path)) as t:
        result = one(https(t.url("/"), ca_file=str(tmp_path / "root.pem"), expect=Expect(cert_min_days=14)))
    if sys.version_info >= (3, 13):  # the Lambda runtime: the whole presented chain
        assert (result.reason, round(result.cert_days_left)) == ("cert_expiring", 10)
    else:  # older Pythons expose the leaf only
        assert (result.reason, round(result.cert_days_left)) == ("ok", 60)


def test_not_after_is_read_from_der_for_utc_and_generalized_times(ca):
    from cryptography import x509

    years = []
    for cert_pem in (ca.cert_pem.bytes(), leaf(ca, days=3).cert_chain_pems[0].bytes()):
        cert = x509.load_pem_x509_certificate(cert_pem)
        der = ssl.PEM_cert_to_DER_cert(cert_pem.decode())
        assert der_not_after(der) == cert.not_valid_after_utc.timestamp()
        years.append(cert.not_valid_after_utc.year)
    assert years[0] >= 2050 > years[1]  # RFC 5280: GeneralizedTime from 2050 on, UTCTime before
    assert der_not_after(b"\x30\x03\x02\x01\x00") is None
    assert der_not_after(b"") is None
