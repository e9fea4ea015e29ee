"""listeners_tls with a real TLS client against a real TLS listener (and a plain one)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shieldx.compliance.checks.context import CheckContext
from shieldx.compliance.checks.crypto import listeners_tls
from shieldx.compliance.checks.domain import Status
from shieldx.platform.context import PlatformContext


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def _listener(tls: ssl.SSLContext | None) -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


def _context(platform_ctx: PlatformContext, targets: dict[str, str], http: Any) -> CheckContext:
    return CheckContext(
        settings=platform_ctx.settings,
        db=platform_ctx.db,
        keyring=platform_ctx.keyring,
        targets=targets,
        http=http,
        api_key=None,
        now=dt.datetime.now(dt.UTC),
        limiters={},
    )


def test_tls_listeners_pass_and_a_plain_one_fails(
    platform_ctx: PlatformContext, tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    modern.load_cert_chain(cert, key)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    old.load_cert_chain(cert, key)
    old.maximum_version = ssl.TLSVersion.TLSv1_2

    async def run() -> tuple[Any, ...]:
        async with (
            httpx.AsyncClient() as http,
            _listener(modern) as tls13,
            _listener(old) as tls12,
            _listener(None) as plain,
        ):
            both = await listeners_tls(_context(platform_ctx, {"a": tls13, "b": tls12}, http), {})
            strict = await listeners_tls(
                _context(platform_ctx, {"a": tls13, "b": tls12}, http),
                {"min_version": "TLSv1.3"},
            )
            mixed = await listeners_tls(_context(platform_ctx, {"a": tls13, "c": plain}, http), {})
            return both, strict, mixed

    both, strict, mixed = asyncio.run(run())
    assert both.status is Status.COMPLIANT
    assert both.evidence["listeners"] == {"a": "negotiated TLSv1.3", "b": "negotiated TLSv1.2"}
    assert strict.status is Status.NON_COMPLIANT  # TLS 1.2 refused when 1.3 is the minimum
    assert strict.evidence["listeners"]["b"].startswith("no TLS")
    assert mixed.status is Status.NON_COMPLIANT and mixed.summary == "no TLS on c"
