"""The shared outbound-target filter (shieldx.platform.targets) as the credits webhooks use it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shieldx.config import Settings
from shieldx.platform import migrations, targets
from shieldx.platform.context import PlatformContext, build_context

from ..conftest import serve_credits
from .test_webhooks import Receiver

HOST = socket.gethostname()  # a name that resolves to this machine: a private address
PRIVATE_IN_DISGUISE = [
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::5",  # local-use NAT64
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
]


@pytest.mark.parametrize("address", PRIVATE_IN_DISGUISE)
def test_ipv4_inside_ipv6_is_checked(address: str) -> None:
    assert targets.is_forbidden(ipaddress.ip_address(address))
    with pytest.raises(targets.TargetRefused, match="private address"):
        targets.check_url(f"http://[{address}]/hook", allow_private=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert not targets.is_forbidden(ipaddress.ip_address(address))


def test_a_name_is_resolved_once_and_refused_when_private_or_unresolvable() -> None:
    async def main() -> None:
        # The machine's own name is not a literal address: only the lookup can tell.
        with pytest.raises(targets.TargetRefused, match=r"resolves to a private address"):
            await targets.resolve(f"http://{HOST}/hook", allow_private=False)
        with pytest.raises(targets.LookupFailed, match="does not resolve"):
            await targets.resolve("http://no-such-host.invalid/hook", allow_private=False)
        literal = await targets.resolve("https://[2001:4860::1]:8443/x", allow_private=False)
        assert literal.url == "https://[2001:4860::1]:8443/x"
        assert literal.extensions == {"sni_hostname": "2001:4860::1"}

    asyncio.run(main())


def test_a_pinned_request_goes_to_the_checked_address_under_its_name() -> None:
    with Receiver().running() as receiver:
        port = receiver.server.server_address[1]
        named = targets.Target(f"http://hooks.example:{port}/hook?x=1", "hooks.example", port)
        pinned = targets.pin(named, ipaddress.ip_address("127.0.0.1"))
        assert pinned.url == f"http://127.0.0.1:{port}/hook?x=1"
        headers = {"Host": targets.host_header(named.url)}
        with httpx.Client() as client:
            client.post(pinned.url, content=b"{}", headers=headers, extensions=pinned.extensions)
    assert receiver.requests[0][0]["Host"] == f"hooks.example:{port}"
    secure = targets.pin(
        targets.Target("https://u:p@hooks.example/h", "hooks.example", 443),
        ipaddress.ip_address("2001:4860::1"),
    )
    assert secure.url == "https://u:p@[2001:4860::1]/h"
    assert secure.extensions == {"sni_hostname": "hooks.example"}


def test_disguised_private_webhook_urls_are_refused_at_registration(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        for address in PRIVATE_IN_DISGUISE:
            url = f"http://[{address}]/hook"
            response = api.post(
                "/credits/threshold", {"account_id": "a1", "threshold": 1, "webhook_url": url}
            )
            assert response.status_code == 422, (url, response.text)
            assert "private address" in response.json()["detail"]


def test_a_name_resolving_to_a_private_address_is_never_posted_to(
    platform_ctx: PlatformContext,
) -> None:
    with Receiver().running() as receiver, serve_credits(platform_ctx) as api:
        port = receiver.server.server_address[1]
        api.post("/credits/purchase", {"account_id": "a1", "amount": 100})
        url = f"http://{HOST}:{port}/hook"  # a name: accepted, resolved at delivery
        set_ = api.post(
            "/credits/threshold", {"account_id": "a1", "threshold": 50, "webhook_url": url}
        )
        assert set_.status_code == 200, set_.text
        api.post("/credits/consume", {"account_id": "a1", "amount": 60, "reason": "x"})
        deadline = time.monotonic() + 10
        while (alert := api.get("/credits/alerts").json()["items"][0])["delivery"] != "failed":
            assert time.monotonic() < deadline, alert
            time.sleep(0.02)  # polling the outcome with a deadline
    assert "private address" in alert["last_error"]
    assert receiver.requests == []


# Only a failed first lookup: a public first answer would make the pinned delivery connect to
# an address off this machine, and tests send traffic to loopback only. Pinning to the checked
# address is shown by test_a_pinned_request_goes_to_the_checked_address_under_its_name.
@pytest.mark.parametrize("first", ["no answer"])
def test_a_name_that_rebinds_after_the_check_is_not_followed(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, first: str
) -> None:
    """DNS rebinding: the first lookup fails, every later one answers this machine."""
    answers: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host: object, *args: Any, **kwargs: Any) -> Any:
        if host not in ("rebind.test", b"rebind.test"):  # anyio passes IDNA-encoded bytes
            return real(host, *args, **kwargs)  # type: ignore[arg-type]
        address = first if not answers else "127.0.0.1"  # no answer, then loopback
        answers.append(address)
        if address == "no answer":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] or 80))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    settings = make_settings(
        credits={"webhooks": {"timeout": "300ms", "backoff": "20ms", "max_attempts": 2}}
    )
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    try:
        with Receiver().running() as receiver, serve_credits(ctx) as api:
            port = receiver.server.server_address[1]
            api.post("/credits/purchase", {"account_id": "a1", "amount": 100})
            url = f"http://rebind.test:{port}/hook"
            body = {"account_id": "a1", "threshold": 50, "webhook_url": url}
            assert api.post("/credits/threshold", body).status_code == 200
            api.post("/credits/consume", {"account_id": "a1", "amount": 60, "reason": "x"})
            deadline = time.monotonic() + 10
            while (alert := api.get("/credits/alerts").json()["items"][0])["delivery"] == "pending":
                assert time.monotonic() < deadline, alert
                time.sleep(0.02)  # polling the outcome with a deadline
    finally:
        ctx.close()
    assert receiver.requests == []  # never sent to the address the name rebound to
    assert answers[0] == first and alert["delivery"] == "failed"
