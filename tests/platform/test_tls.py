"""TLS on the listeners, checked with real TLS clients over loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.crypto import listeners_tls
from shieldx.compliance.checks.domain import Outcome, Status
from shieldx.config import ConfigError, TlsSettings, load_settings
from shieldx.platform.context import PlatformContext
from shieldx.platform.loadgen import free_port, read_banner
from shieldx.platform.server import ServeError, bind_socket, tls_context, uvicorn_config
from shieldx.platform.tls import development_certificate


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    directory: Path, stem: str, cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
) -> tuple[Path, Path]:
    """A client certificate for CN signed by ISSUER, written as STEM-cert.pem / STEM-key.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(issuer[1], hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}-cert.pem", directory / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(key))
    return cert_path, key_path


def _ca(
    directory: Path, stem: str
) -> tuple[Path, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{stem} CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{stem}-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, (cert, key)


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello over {request.url.scheme}")


@contextmanager
def _listener(tls: TlsSettings) -> Iterator[int]:
    """A real uvicorn listener with the platform's config and the SSLContext TLS describes."""
    context = tls_context(tls)
    assert context is not None
    app = Starlette(routes=[Route("/hello", _hello)])
    sock = bind_socket("test", "127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(app, tls=context))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "listener did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _client(
    cafile: Path,
    version: ssl.TLSVersion,
    cert: tuple[Path, Path] | None = None,
) -> ssl.SSLContext:
    """A client pinned to exactly VERSION that trusts CAFILE (and presents CERT if given)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if version < ssl.TLSVersion.TLSv1_2:
        # The client's own library would refuse to offer TLS 1.1 at the default security
        # level; lowering it makes sure it is the server that says no.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is, which is the point
        context.minimum_version = context.maximum_version = version
    context.load_verify_locations(cafile)
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def _handshake(port: int, context: ssl.SSLContext) -> str:
    """The negotiated protocol version (raises ssl.SSLError when the server refuses)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        version = tls.version()
        assert version is not None
        # Under TLS 1.3 the server's verdict on a client certificate arrives after the
        # handshake; a request and its answer prove the connection was really accepted.
        tls.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = tls.recv(4096)
        if not answer:
            raise ssl.SSLError("the server closed the connection")
        assert answer.startswith(b"HTTP/1.1 200"), answer
        return version


def test_default_minimum_is_tls13_and_older_clients_are_refused(tmp_path: Path) -> None:
    cert, key = development_certificate(tmp_path / "tls")
    tls = TlsSettings(certfile=cert, keyfile=key)
    assert tls.min_version == "1.3"
    with _listener(tls) as port:
        assert _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_3)) == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_2))
        with pytest.raises(ssl.SSLError):
            _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_1))
        # And an ordinary HTTPS client, verifying the certificate, gets its answer.
        with httpx.Client(verify=ssl.create_default_context(cafile=cert)) as http:
            reply = http.get(f"https://localhost:{port}/hello")
        assert reply.status_code == 200 and reply.text == "hello over https"


def test_min_version_12_accepts_tls12_but_never_tls11(tmp_path: Path) -> None:
    cert, key = development_certificate(tmp_path / "tls")
    with _listener(TlsSettings(certfile=cert, keyfile=key, min_version="1.2")) as port:
        assert _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"
        assert _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_3)) == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_1))


def test_mutual_tls_accepts_only_clients_with_a_certificate_from_the_ca(tmp_path: Path) -> None:
    cert, key = development_certificate(tmp_path / "tls")
    ca_file, ca = _ca(tmp_path, "clients")
    _, stranger = _ca(tmp_path, "stranger")
    member = _issue(tmp_path, "member", "billing-service", ca)
    outsider = _issue(tmp_path, "outsider", "billing-service", stranger)
    tls = TlsSettings(certfile=cert, keyfile=key, client_ca=ca_file)
    with _listener(tls) as port:
        assert _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_3, member)) == "TLSv1.3"
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_3))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(port, _client(cert, ssl.TLSVersion.TLSv1_3, outsider))


def test_tls_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be set together"):
        load_settings(None, {}, {"server": {"tls": {"certfile": str(tmp_path / "c.pem")}}})
    with pytest.raises(ConfigError, match="min_version"):
        load_settings(None, {}, {"server": {"tls": {"min_version": "1.1"}}})
    missing = TlsSettings(certfile=tmp_path / "none.pem", keyfile=tmp_path / "none-key.pem")
    with pytest.raises(ServeError, match="cannot load certificate"):
        tls_context(missing)
    assert tls_context(TlsSettings()) is None


def test_development_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    cert, key = development_certificate(tmp_path / "tls")
    first = cert.read_bytes()
    assert development_certificate(tmp_path / "tls") == (cert, key)
    assert cert.read_bytes() == first  # kept across starts, so clients may trust it
    assert key.stat().st_mode & 0o077 == 0


def test_compliance_check_turns_compliant_on_a_tls_listener(
    platform_ctx: PlatformContext, tmp_path: Path
) -> None:
    cert, key = development_certificate(tmp_path / "tls")

    async def check(port: int) -> Outcome:
        async with httpx.AsyncClient() as http:
            ctx = CheckContext(
                settings=platform_ctx.settings,
                db=platform_ctx.db,
                keyring=platform_ctx.keyring,
                targets={"credits": f"https://127.0.0.1:{port}"},
                http=http,
                api_key=None,
                now=dt.datetime.now(dt.UTC),
                limiters={},
            )
            return await listeners_tls(ctx, {"min_version": "TLSv1.3"})

    with _listener(TlsSettings(certfile=cert, keyfile=key)) as port:
        outcome = asyncio.run(check(port))
    assert outcome.status is Status.COMPLIANT
    assert outcome.evidence["listeners"] == {"credits": "negotiated TLSv1.3"}


def test_up_with_tls_serves_https_with_a_generated_certificate(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = {name: free_port() for name in ("credits", "shadow", "camouflage", "locator")}
    decoy = free_port()
    config = tmp_path / "shieldx.yaml"
    config.write_text(
        f"camouflage:\n  decoys: [{{name: web, template: nginx-1.22.1-debian, port: {decoy}}}]\n",
        encoding="utf-8",
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "shieldx", "up", "--tls", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**clean, "SHIELDX_DATA_DIR": str(data_dir)},
    )
    try:
        banner = read_banner(proc, timeout=90)
        cert = data_dir / "tls" / "dev-cert.pem"
        assert cert.is_file() and (data_dir / "tls" / "dev-key.pem").is_file()
        assert f"  credits      https://127.0.0.1:{ports['credits']}" in banner
        with httpx.Client(verify=ssl.create_default_context(cafile=cert)) as http:
            for port in ports.values():
                assert http.get(f"https://127.0.0.1:{port}/health").status_code == 200
            # The decoys keep their own plain listeners: they mimic the server they pretend to be.
            reply = httpx.get(f"http://127.0.0.1:{decoy}/", timeout=10)
            assert reply.status_code < 500 and "nginx" in reply.headers.get("server", "")
        with pytest.raises(ssl.SSLError):
            _handshake(ports["credits"], _client(cert, ssl.TLSVersion.TLSv1_2))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
