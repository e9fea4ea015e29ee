"""HTTPS decoys: a certificate like Debian's ssl-cert snakeoil, the servers' default TLS
settings, ALPN as they answer it, and the client's JA4 fingerprint.

The TLS layer is a memory-BIO ``ssl.SSLObject`` between the socket and the decoy's HTTP
protocol (``TlsShim``), so the raw ClientHello passes through our hands before OpenSSL sees it.
asyncio's own TLS transport (``create_server(ssl=…)``) hides those bytes, and the maintained
JA4 implementations are Wireshark/Zeek plugins and Rust/Go code, not a Python library we could
depend on, so ``ja4`` below parses the ClientHello itself (FoxIO's JA4 specification).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}
_MAX_HELLO = 16_384 + 5
#: The default ciphers of the mimicked servers' Debian configurations (OpenSSL names).
CIPHERS = {"nginx": "HIGH:!aNULL:!MD5", "apache": "HIGH:!aNULL"}


def snakeoil(host: str, *, not_before: float) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM): self-signed, CN and SAN = HOST, RSA 2048, ten years.

    What Debian's make-ssl-cert writes at install time, which nginx's and apache2's default
    SSL sites use.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    start = dt.datetime.fromtimestamp(int(not_before), dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(flavor: str, cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """An SSLContext with the mimicked server's defaults (TLS 1.2-1.3, its ciphers, ALPN)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS.get(flavor, "HIGH:!aNULL"))
    if flavor == "nginx":
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE  # ssl_prefer_server_ciphers on
    # No HTTP/2 module on either default site: http/1.1 is chosen when offered.
    context.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        key.chmod(0o600)
        context.load_cert_chain(cert, key)
    return context


# -- JA4 -------------------------------------------------------------------------------------


def client_hello(data: bytes) -> bytes | None:
    """The ClientHello handshake body once DATA holds it all; b"" if DATA is not TLS."""
    if len(data) < 5:
        return None
    if data[0] != 0x16 or data[1] != 0x03:
        return b""
    body = bytearray()
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x16:
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if pos + 5 + length > len(data):
            return None
        body += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if len(body) >= 4:
            need = 4 + int.from_bytes(body[1:4], "big")
            if body[0] != 0x01:
                return b""
            if len(body) >= need:
                return bytes(body[4:need])
    return None if len(data) < _MAX_HELLO else b""


def _u16_list(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4(hello: bytes, *, transport: str = "t") -> str:
    """FoxIO's JA4 of a ClientHello body (handshake header stripped)."""
    pos = 2 + 32
    legacy = int.from_bytes(hello[0:2], "big")
    pos += 1 + hello[pos]
    cipher_len = int.from_bytes(hello[pos : pos + 2], "big")
    ciphers = [c for c in _u16_list(hello[pos + 2 : pos + 2 + cipher_len]) if c not in _GREASE]
    pos += 2 + cipher_len
    pos += 1 + hello[pos]
    extensions: list[int] = []
    versions: list[int] = []
    sigalgs: list[int] = []
    alpn = ""
    sni = False
    if pos + 2 <= len(hello):
        end = pos + 2 + int.from_bytes(hello[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            kind = int.from_bytes(hello[pos : pos + 2], "big")
            size = int.from_bytes(hello[pos + 2 : pos + 4], "big")
            value = hello[pos + 4 : pos + 4 + size]
            pos += 4 + size
            if kind in _GREASE:
                continue
            extensions.append(kind)
            if kind == 0x0000:
                sni = True
            elif kind == 0x0010 and len(value) > 3:
                alpn = value[3 : 3 + value[2]].decode("latin-1")
            elif kind == 0x002B and value:
                versions = [v for v in _u16_list(value[1 : 1 + value[0]]) if v not in _GREASE]
            elif kind == 0x000D and len(value) >= 2:
                sigalgs = _u16_list(value[2 : 2 + int.from_bytes(value[:2], "big")])
    version = _VERSIONS.get(max(versions) if versions else legacy, "00")
    if not alpn:
        first_last = "00"
    elif alpn[0].isalnum() and alpn[-1].isalnum():
        first_last = alpn[0] + alpn[-1]
    else:
        raw = alpn.encode("latin-1").hex()
        first_last = raw[0] + raw[-1]
    part_a = (
        f"{transport}{version}{'d' if sni else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{first_last}"
    )
    part_b = _hash12(",".join(sorted(f"{c:04x}" for c in ciphers)))
    listed = ",".join(sorted(f"{e:04x}" for e in extensions if e not in (0x0000, 0x0010)))
    if sigalgs:
        listed += "_" + ",".join(f"{s:04x}" for s in sigalgs)
    return f"{part_a}_{part_b}_{_hash12(listed)}"


# -- the TLS layer ---------------------------------------------------------------------------


class TlsTransport(asyncio.Transport):
    """What the HTTP protocol writes to: encrypts into the socket's transport."""

    def __init__(self, shim: TlsShim) -> None:
        super().__init__()
        self._shim = shim

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and send."""
        self._shim.send(bytes(data))

    def can_write_eof(self) -> bool:
        """TLS has no half-close."""
        return False

    def close(self) -> None:
        """Send close_notify, then close the socket."""
        self._shim.shutdown()

    def abort(self) -> None:
        """Close the socket at once."""
        self._shim.raw_close(abort=True)

    def is_closing(self) -> bool:
        """Whether the socket is closing."""
        return self._shim.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The socket's details, plus ``ja4`` and ``alpn``."""
        if name == "ja4":
            return self._shim.ja4
        if name == "alpn":
            return self._shim.sslobj.selected_alpn_protocol()
        raw = self._shim.raw
        return raw.get_extra_info(name, default) if raw is not None else default

    def pause_reading(self) -> None:
        """Stop reading from the socket."""
        if self._shim.raw is not None:
            self._shim.raw.pause_reading()

    def resume_reading(self) -> None:
        """Read from the socket again."""
        if self._shim.raw is not None:
            self._shim.raw.resume_reading()


class TlsShim(asyncio.Protocol):
    """Between the socket and the decoy's HTTP protocol: reads the ClientHello, then TLS."""

    def __init__(
        self,
        context: ssl.SSLContext,
        inner: asyncio.Protocol,
        *,
        handshake_timeout: float = 60.0,
        on_ja4: Callable[[str], None] | None = None,
    ) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.inner = inner
        self.raw: asyncio.Transport | None = None
        self.hello = bytearray()
        self.ja4 = ""
        self.ready = False
        self.closed = False
        self.on_ja4 = on_ja4
        self.handshake_timeout = handshake_timeout
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Wait for the ClientHello (bounded by the handshake timeout)."""
        self.raw = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.handshake_timeout, self.raw_close)

    def data_received(self, data: bytes) -> None:
        """Fingerprint the hello, then run the handshake or decrypt for the HTTP protocol."""
        if self.closed:
            return
        if not self.ja4:
            self.hello += data
            body = client_hello(bytes(self.hello))
            if body is None:
                return
            if body == b"":
                self.raw_close()  # not TLS: the servers reset or send an alert; we close
                return
            try:
                self.ja4 = ja4(body)
            except (IndexError, ValueError):
                self.ja4 = "unparsed"
            if self.on_ja4 is not None:
                self.on_ja4(self.ja4)
            data = bytes(self.hello)
            self.hello.clear()
        self.incoming.write(data)
        if not self.ready:
            try:
                self.sslobj.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                return
            except ssl.SSLError:
                self._flush()
                self.raw_close()
                return
            self._flush()
            self.ready = True
            if self.timer is not None:
                self.timer.cancel()
            self.inner.connection_made(TlsTransport(self))
        self._read_plain()

    def _read_plain(self) -> None:
        while not self.closed:
            try:
                chunk = self.sslobj.read(65536)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLError):
                self.inner.eof_received()
                break
            if not chunk:
                self.inner.eof_received()
                break
            self.inner.data_received(chunk)
        self._flush()

    def _flush(self) -> None:
        pending = self.outgoing.read()
        if pending and self.raw is not None and not self.raw.is_closing():
            self.raw.write(pending)

    def send(self, data: bytes) -> None:
        """Encrypt DATA for the client."""
        if self.closed or not self.ready:
            return
        self.sslobj.write(data)
        self._flush()

    def shutdown(self) -> None:
        """close_notify, then close."""
        if self.ready and not self.closed:
            with contextlib.suppress(ssl.SSLError):
                self.sslobj.unwrap()
            self._flush()
        self.raw_close()

    def raw_close(self, abort: bool = False) -> None:
        """Close the socket (once)."""
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        if self.raw is not None:
            if abort:
                self.raw.abort()
            else:
                self.raw.close()

    def eof_received(self) -> bool | None:
        """The client closed its side."""
        if self.ready:
            return self.inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the HTTP protocol (if it ever started)."""
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        if self.ready:
            self.inner.connection_lost(exc)
