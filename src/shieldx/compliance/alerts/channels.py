"""Alert channels: a signed webhook, syslog (RFC 5424 over UDP) and e-mail over SMTP.

The webhook is signed as every ShieldX webhook is (shieldx.platform.webhooks), so one
verifier serves them all.
"""

from __future__ import annotations

import json
import smtplib
import socket
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import anyio.to_thread
import httpx

from shieldx.platform.webhooks import SIGNATURE_HEADER, sign

# RFC 5424 severities by alert severity (facility 13: log audit).
_SYSLOG_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5}
_FACILITY = 13


async def send_webhook(
    http: httpx.AsyncClient, url: str, secret: bytes, event: dict[str, Any], timeout_seconds: float
) -> str:
    """POST EVENT as signed JSON; 'delivered' or why not."""
    body = json.dumps(event, sort_keys=True, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
    }
    try:
        answer = await http.post(url, content=body, headers=headers, timeout=timeout_seconds)
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    return "delivered" if answer.is_success else f"failed: HTTP {answer.status_code}"


def syslog_line(event: dict[str, Any], hostname: str) -> bytes:
    """One RFC 5424 message for EVENT."""
    pri = _FACILITY * 8 + _SYSLOG_SEVERITY.get(str(event.get("severity")), 5)
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    msgid = str(event.get("event", "alert")).replace(" ", "_")[:32]
    text = f"{event.get('subject')} ({event.get('severity')}, alert {event.get('id')})"
    return f"<{pri}>1 {stamp} {hostname} shieldx - {msgid} - {text}".encode()


async def send_syslog(host: str, port: int, event: dict[str, Any]) -> str:
    """Send EVENT to a syslog receiver over UDP; 'sent' or why not."""
    line = syslog_line(event, socket.gethostname())

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(line, (host, port))

    try:
        await anyio.to_thread.run_sync(send)
    except OSError as exc:
        return f"failed: {exc.strerror or type(exc).__name__}"
    return "sent"


def email_message(event: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    """The e-mail for EVENT: its subject and severity in the subject line, the alert as text."""
    message = EmailMessage()
    stage = "escalated" if str(event.get("event", "")).endswith("escalated") else "alert"
    message["Subject"] = f"[ShieldX {event.get('severity')} {stage}] {event.get('subject')}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(
        f"{event.get('subject')}\n\n{event.get('detail')}\n\nalert id: {event.get('id')}\n"
        f"acknowledge: shieldx compliance alerts ack {event.get('id')}\n"
    )
    return message


async def send_email(host: str, port: int, message: EmailMessage, timeout_seconds: float) -> str:
    """Send MESSAGE through the SMTP server at HOST:PORT; 'sent' or why not."""

    def send() -> None:
        with smtplib.SMTP(host, port, timeout=timeout_seconds) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            smtp.send_message(message)

    try:
        await anyio.to_thread.run_sync(send)
    except (OSError, smtplib.SMTPException) as exc:
        return f"failed: {type(exc).__name__}"
    return "sent"
