"""A whole platform served over loopback on the ports its settings name (as `shieldx up`),
with a webhook receiver and a syslog receiver as the alert channels."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from shieldx.config import deep_merge
from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import build_context
from shieldx.platform.loadgen import free_port
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.compliance import QUIET, WEBHOOK_SECRET, Receivers, Running
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LivePlatform


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    """A webhook receiver (HTTP) and a syslog receiver (UDP) on loopback."""
    got = Receivers()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.webhooks.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    got.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    got.syslog_port = udp.getsockname()[1]
    stop = threading.Event()

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.mail.append(envelope.content)
            return "250 OK"

    got.smtp_port = free_port()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=got.smtp_port)
    smtp.start()

    def listen() -> None:
        while not stop.is_set():
            try:
                got.syslog.append(udp.recv(65536))
            except TimeoutError:
                continue

    threads = [
        threading.Thread(target=server.serve_forever, daemon=True),
        threading.Thread(target=listen, daemon=True),
    ]
    for thread in threads:
        thread.start()
    yield got
    stop.set()
    smtp.stop()
    server.shutdown()
    server.server_close()
    for thread in threads:
        thread.join(timeout=5)
    udp.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, receivers: Receivers) -> Iterator[Running]:
    """Every service on the ports its settings name, compliance alerts sent to the receivers."""
    ports = {name: free_port() for name in SERVICES}
    overrides = deep_merge(
        QUIET,
        {name: {"port": port} for name, port in ports.items()},
        {
            "compliance": {
                "escalate_after": "1s",
                "channels": {
                    "webhook_url": receivers.webhook_url,
                    "webhook_secret": WEBHOOK_SECRET,
                    "syslog_host": "127.0.0.1",
                    "syslog_port": receivers.syslog_port,
                    "smtp_host": "127.0.0.1",
                    "smtp_port": receivers.smtp_port,
                    "mail_to": ["security@example.com"],
                },
            }
        },
    )
    settings = settings_for_test(tmp_path_factory.mktemp("compliance"), **overrides)
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    apps = {name: create_app(ctx, name, info.factory()) for name, info in SERVICES.items()}
    _, key = ctx.api_keys.create(role=Role.ADMIN, name="compliance-test-admin")
    with (
        LivePlatform(apps, ports=ports) as live,
        httpx.Client(
            base_url=live.urls["credits"], headers={"Authorization": f"Bearer {key}"}
        ) as client,
    ):
        yield Running(ctx=ctx, live=live, admin_key=key, client=client, receivers=receivers)
    ctx.close()
