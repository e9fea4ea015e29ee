"""Where formatted events go: a syslog receiver (UDP, TCP, TLS) or a Splunk HTTP Event Collector.

Each transport sends one batch at a time from its exporter's thread and raises
``DeliveryFailed`` saying whether trying again may help. Neither ever logs what it sends or
the HEC token.
"""

from __future__ import annotations

import socket
import ssl
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import httpx

from shieldx.platform.siem.domain import octet_counted


class DeliveryFailed(Exception):
    """A batch was not delivered; RETRYABLE says whether the same batch may succeed later."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class Transport(ABC):
    """One destination's connection (subclass per protocol); used by one thread only."""

    name: str = "transport"
    # The largest message the destination accepts (None: no limit of ours).
    max_message: int | None = None

    @abstractmethod
    def send(self, messages: Sequence[bytes]) -> None:
        """Deliver MESSAGES (in order) or raise DeliveryFailed."""

    def close(self) -> None:
        """Release the connection; nothing by default."""
        return None


class UdpSyslog(Transport):
    """RFC 5426: one message per datagram, no acknowledgement (delivery is best effort)."""

    name = "syslog"

    def __init__(self, host: str, port: int, *, max_message: int) -> None:
        self.address = (host, port)
        self.max_message = max_message
        self._sock: socket.socket | None = None

    def send(self, messages: Sequence[bytes]) -> None:
        """Send each message as one datagram."""
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for message in messages:
                self._sock.sendto(message, self.address)
        except OSError as exc:
            self.close()
            raise DeliveryFailed(
                f"UDP send failed: {exc.strerror or exc}", retryable=True
            ) from None

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class StreamSyslog(Transport):
    """RFC 6587 (TCP) and RFC 5425 (TLS): octet-counted messages on one kept-open connection."""

    name = "syslog"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        ca_file: Path | None = None,
        server_name: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.host, self.port = host, port
        self.timeout_s = timeout_s
        self.server_name = server_name or host
        self._context: ssl.SSLContext | None = None
        if tls:
            self._context = ssl.create_default_context(
                cafile=str(ca_file) if ca_file is not None else None
            )
            self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        if self._context is not None:
            try:
                sock = self._context.wrap_socket(sock, server_hostname=self.server_name)
            except (ssl.SSLError, OSError):
                sock.close()
                raise
        return sock

    def send(self, messages: Sequence[bytes]) -> None:
        """Write the framed messages in one go (reconnecting when the connection broke)."""
        data = b"".join(octet_counted(m) for m in messages)
        try:
            if self._sock is None:
                self._sock = self._connect()
            self._sock.sendall(data)
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise DeliveryFailed(
                f"the syslog receiver's certificate is not trusted ({exc.verify_message})",
                retryable=True,
            ) from None
        except OSError as exc:
            self.close()
            raise DeliveryFailed(
                f"syslog connection failed: {exc.strerror or type(exc).__name__}", retryable=True
            ) from None

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


class SplunkHec(Transport):
    """Splunk HTTP Event Collector: one POST of concatenated event objects per batch."""

    name = "splunk"
    PATH = "/services/collector/event"

    def __init__(
        self, url: str, token: str, *, ca_file: Path | None = None, timeout_s: float = 5.0
    ) -> None:
        self.endpoint = url + self.PATH
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        self._client = httpx.Client(
            verify=verify,
            timeout=timeout_s,
            headers={"Authorization": f"Splunk {token}", "Content-Type": "application/json"},
        )

    def send(self, messages: Sequence[bytes]) -> None:
        """POST the batch; 5xx, 429 and connection errors may be retried, other refusals not."""
        try:
            answer = self._client.post(self.endpoint, content=b"\n".join(messages))
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                f"HEC request failed: {type(exc).__name__}", retryable=True
            ) from None
        if answer.status_code == 200:
            return
        text = _hec_text(answer)
        retryable = answer.status_code >= 500 or answer.status_code == 429
        raise DeliveryFailed(f"HEC answered {answer.status_code}: {text}", retryable=retryable)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def _hec_text(answer: httpx.Response) -> str:
    """The collector's own explanation ({"text": …, "code": …}), kept short."""
    try:
        body = answer.json()
    except ValueError:
        return "(no JSON answer)"
    if isinstance(body, dict):
        return f"{str(body.get('text', ''))[:200]} (code {body.get('code')})"
    return "(unexpected answer)"
