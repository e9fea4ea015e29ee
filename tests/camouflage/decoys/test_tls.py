"""HTTPS decoys: the certificate, the TLS settings, ALPN and the client's JA4, checked with
Python's own TLS client and with the real openssl s_client."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator

import pytest

from shieldx.camouflage.decoys import DecoyServer
from shieldx.camouflage.decoys.tls import client_hello, ja4, server_context, snakeoil

from .conftest import DecoyHost, Recorder, require_tool

HOST = "www.example.test"
NOT_BEFORE = 1_760_000_000


def _hello(*, ciphers: list[int], extensions: list[tuple[int, bytes]]) -> bytes:
    """A ClientHello handshake body."""
    body = b"\x03\x03" + bytes(32) + b"\x00"
    body += (2 * len(ciphers)).to_bytes(2, "big")
    body += b"".join(c.to_bytes(2, "big") for c in ciphers) + b"\x01\x00"
    exts = b"".join(k.to_bytes(2, "big") + len(v).to_bytes(2, "big") + v for k, v in extensions)
    return body + len(exts).to_bytes(2, "big") + exts


def _h12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_ja4_follows_the_specification() -> None:
    sni = b"\x00\x06\x00\x00\x03abc"
    alpn = b"\x00\x0c\x02h2\x08http/1.1"
    versions = b"\x04\x0a\x0a\x03\x04\x03\x03"  # GREASE, TLS 1.3, TLS 1.2
    sigalgs = b"\x00\x04\x04\x03\x08\x04"
    hello = _hello(
        ciphers=[0x0A0A, 0x1301, 0x002F, 0x0035],
        extensions=[
            (0x1A1A, b""),
            (0x0000, sni),
            (0x0010, alpn),
            (0x002B, versions),
            (0x000D, sigalgs),
            (0x000A, b"\x00\x02\x00\x1d"),
        ],
    )
    expected_c = _h12("000a,000d,002b_0403,0804")
    assert ja4(hello) == f"t13d0305h2_{_h12('002f,0035,1301')}_{expected_c}"
    # No SNI, no ALPN, no supported_versions: 'i', "00", the legacy version.
    bare = _hello(ciphers=[0x002F], extensions=[(0x000A, b"\x00\x02\x00\x1d")])
    assert ja4(bare) == f"t12i010100_{_h12('002f')}_{_h12('000a')}"
    # The record layer: incomplete, complete, not TLS.
    record = b"\x16\x03\x01" + (len(hello) + 4).to_bytes(2, "big")
    message = b"\x01" + len(hello).to_bytes(3, "big") + hello
    assert client_hello(record + message[:10]) is None
    assert client_hello(record + message) == hello
    assert client_hello(b"GET / HTTP/1.1\r\n") == b""


@pytest.fixture(scope="module")
def tls_decoy(decoy_host: DecoyHost) -> Iterator[tuple[DecoyServer, Recorder]]:
    """An HTTPS nginx decoy with a snakeoil certificate for www.example.test."""
    cert, key = snakeoil(HOST, not_before=NOT_BEFORE)
    recorder = Recorder()
    server = decoy_host.start(
        "nginx-1.22.1-debian",
        name="tls",
        tls=server_context("nginx", cert, key),
        observer=recorder,
    )
    yield server, recorder
    decoy_host.stop(server)


def _client(alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(alpn)
    return context


def test_https_answers_like_the_plain_decoy_and_records_ja4(
    tls_decoy: tuple[DecoyServer, Recorder],
) -> None:
    server, recorder = tls_decoy
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with _client(["h2", "http/1.1"]).wrap_socket(raw, server_hostname=HOST) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() == "TLSv1.3"
        cert = tls.getpeercert(binary_form=True)
        tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n")
    assert b"<title>Welcome to nginx!</title>" in data
    assert cert is not None
    (exchange,) = recorder.wait_for(1)
    assert exchange.path == "/" and exchange.status == 200
    assert exchange.ja4.startswith("t13d") and exchange.ja4[8:10] == "h2"


def test_openssl_s_client_sees_a_snakeoil_certificate_and_http11(
    tls_decoy: tuple[DecoyServer, Recorder],
) -> None:
    require_tool("openssl", "openssl")
    server, _ = tls_decoy
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", HOST,
         "-alpn", "h2,http/1.1"],
        input=b"", capture_output=True, timeout=20, check=False,
    ).stdout.decode()  # fmt: skip
    assert f"subject=CN = {HOST}" in out and f"issuer=CN = {HOST}" in out
    assert "ALPN protocol: http/1.1" in out
    assert "Protocol  : TLSv1.3" in out or "New, TLSv1.3" in out
    # TLS 1.1 is refused, as by Debian's OpenSSL 3 defaults.
    old = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_1"],
        input=b"", capture_output=True, timeout=20, check=False,
    )  # fmt: skip
    assert old.returncode != 0


def test_the_certificate_is_plausible() -> None:
    from cryptography import x509

    cert_pem, _ = snakeoil(HOST, not_before=NOT_BEFORE)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == f"CN={HOST}"
    assert int(cert.not_valid_before_utc.timestamp()) == NOT_BEFORE
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 3650
    assert cert.not_valid_before_utc.timestamp() < time.time()


def test_nmap_ssl_scripts_see_the_certificate_and_tls12_13_ciphers(
    tls_decoy: tuple[DecoyServer, Recorder],
) -> None:
    require_tool("nmap", "nmap")
    server, _ = tls_decoy
    out = subprocess.run(
        ["nmap", "-Pn", "-n", "-p", str(server.port), "--script", "ssl-cert,ssl-enum-ciphers",
         "127.0.0.1"],
        capture_output=True, timeout=120, check=False,
    ).stdout.decode()  # fmt: skip
    assert f"Subject: commonName={HOST}" in out
    assert "TLSv1.2:" in out and "TLSv1.3:" in out
    assert "TLSv1.0:" not in out and "TLSv1.1:" not in out
    # nginx's ssl_prefer_server_ciphers on: the server's order wins in TLS 1.2.
    assert "cipher preference: server" in out
    assert "_NULL_" not in out and "_anon_" not in out and "least strength: A" in out
