"""The running service over real sockets: recording, sessions, markers, bandit, caps."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shieldx.camouflage.runtime import jsonl_path
from shieldx.platform.context import PlatformContext
from shieldx.platform.webhooks import verify
from shieldx.testing.live import LiveServer

NGINX = "nginx-1.22.1-debian"
UA = "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"


def raw(port: int, request: bytes, source: str = "127.0.0.1") -> bytes:
    """Send REQUEST bytes from SOURCE and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _events(ctx: PlatformContext) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in jsonl_path(ctx).read_bytes().splitlines()]


def test_every_exchange_is_recorded_and_classified(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": NGINX, "port": 0}])
    with start_camouflage(ctx) as cam:
        port = cam.service.ports["web"]
        assert raw(port, b"GET / HTTP/1.0\r\n\r\n").startswith(
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1"
        )
        raw(port, b"GET /nice%20ports%2C/Tri%6Eity.txt%2ebak HTTP/1.0\r\n\r\n")
        probes = [
            "/?=PHPB8B5F2A0-3C92-11d3-A3A9-4C7B08C10000",
            "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd",
            "/item.php?id=1%20UNION%20ALL%20SELECT%20NULL,NULL--%20-",
            "/wp-login.php",
        ]
        for target in probes:
            raw(
                port,
                f"GET {target} HTTP/1.1\r\nHost: victim\r\nUser-Agent: Mozilla/5.00 (Nikto/2.5.0)"
                "\r\nX-Forwarded-For: 10.9.9.9\r\nConnection: close\r\n\r\n".encode(),
            )
        raw(port, b"BREW /pot HTCPCP/1.0\r\n\r\n")
        cam.flush()
        stored = cam.service.store.count_events(decoy="web", event="camouflage.request")
        assert stored == 7
        events = [e for e in _events(ctx) if e["event"] == "camouflage.request"]
        assert len(events) == 7
        first = events[0]
        assert first["scanner"] == "nmap" and first["http_version"] == "HTTP/1.0"
        assert first["source_ip"] == "127.0.0.1" and first["source_port"] > 0
        nikto = [e for e in events if e["tool"] == "nikto"]
        assert len(nikto) == 3
        # X-Forwarded-For is not believed without a trusted proxy.
        assert {e["source_ip"] for e in nikto} == {"127.0.0.1"}
        attacks = {a for e in nikto for a in e["attack_types"]}
        assert {"sql_injection", "admin_probe"} <= attacks
        # nginx refuses a path above the root right after the request line (no headers read),
        # and the record still says what it tried.
        traversal = events[3]
        assert traversal["status"] == 400 and traversal["malformed"] is True
        assert traversal["attack_types"] == ["exploit", "path_traversal"]
        assert events[-1]["malformed"] is True
        session_id = nikto[0]["session_id"]
        detail = cam.api("GET", f"/v1/camouflage/session/{session_id}").json()
        assert detail["classification"]["scanner"] == "nikto"
        assert detail["engagement"]["requests"] == 3
        assert len(detail["events"]) == 3
        metrics = httpx.get(cam.url + "/metrics").text
        assert 'camouflage_requests_total{attack_type="sql_injection",decoy="web"} 1.0' in metrics
        assert "camouflage_sessions_active 2.0" in metrics


def test_a_marker_ties_a_scraper_that_changes_address(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": NGINX, "port": 0}])
    with start_camouflage(ctx) as cam:
        base = cam.decoy_url("web")
        with httpx.Client(headers={"User-Agent": "scrapy/2.11"}, follow_redirects=True) as client:
            root = client.get(base + "/backup/")
            assert root.status_code == 200 and len(root.history) == 1
            marked = root.url.path
            sub = next(
                line.split('"')[1]
                for line in root.text.splitlines()
                if line.startswith("<a href=")
                and line.split('"')[1].endswith("/")
                and line.split('"')[1] != "../"
            )
            assert client.get(base + marked + sub).status_code == 200
        moved = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=moved, headers={"User-Agent": "scrapy/2.11"}) as client:
            page = client.get(base + marked + sub)
            assert page.status_code == 200
        cam.flush()
        events = [e for e in _events(ctx) if e["event"] == "camouflage.request"]
        assert {e["source_ip"] for e in events} == {"127.0.0.1", "127.0.0.2"}
        assert len({e["session_id"] for e in events}) == 1
        assert events[-1]["maze_depth"] == 1
        session = cam.service.tracker.get(events[0]["session_id"])
        assert session is not None and session.requests == 4 and session.maze_depth == 1


def test_closing_sessions_reward_the_bandit_which_survives_a_restart(
    camouflage_ctx: Any, start_camouflage: Any, eventually: Callable[..., bool]
) -> None:
    ctx = camouflage_ctx(
        decoys=[
            {"name": "web", "template": NGINX, "port": 0},
            {"name": "iis", "template": "iis-10.0", "port": 0},
        ],
        sessions={"idle_timeout": "300ms", "sweep_interval": "50ms", "engaged_min_requests": 3},
        bandit={"seed": 5},
    )
    with start_camouflage(ctx) as cam:
        chosen = cam.api("POST", "/select", "service", json={"context": {"source_ip": "127.0.0.1"}})
        assert chosen.status_code == 200, chosen.text
        pick = chosen.json()
        assert pick["reason"].startswith("thompson")
        with httpx.Client(headers={"User-Agent": "curl/8.5.0"}) as client:
            for path in ("/", "/a", "/b"):
                client.get(cam.decoy_url(pick["decoy"]) + path)

        def arm() -> dict[str, Any]:
            graph = cam.api("GET", "/graph", "auditor").json()
            return next(d for d in graph["decoys"] if d["decoy"] == pick["decoy"])

        assert eventually(lambda: arm()["pulls"] == 1)
        assert arm()["successes"] == 1.0 and arm()["posterior"]["alpha"] == 2.0
        cam.flush()
        closed = [e for e in _events(ctx) if e["event"] == "camouflage.session.closed"]
        assert closed[0]["session_id"] == pick["session_id"]
        assert closed[0]["engaged"] is True and closed[0]["reward"] == 1.0
        feedback = cam.api(
            "POST", "/feedback", json={"session_id": pick["session_id"], "reward": 0.25}
        )
        assert feedback.json()["replaced"] == 1.0
        assert arm()["pulls"] == 1 and arm()["successes"] == 0.25
        sticky = cam.api("POST", "/select", json={"context": {"source_ip": "127.0.0.1"}}).json()
        assert sticky["decoy"] == pick["decoy"] and sticky["reason"].startswith("sticky")
    with start_camouflage(ctx) as cam:
        graph = cam.api("GET", "/graph").json()
        restored = next(d for d in graph["decoys"] if d["decoy"] == pick["decoy"])
        assert restored["pulls"] == 1 and restored["successes"] == 0.25
        assert restored["selections"] == 1
        assert 0.0 < restored["probability_best"] < 1.0
        again = cam.api("POST", "/select", json={"context": {"source_ip": "127.0.0.1"}}).json()
        assert again["decoy"] == pick["decoy"] and again["reason"].startswith("sticky")


def test_trusted_proxies_and_caps_from_the_settings(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    ctx = camouflage_ctx(
        decoys=[{"name": "web", "template": NGINX, "port": 0}],
        recording={"trusted_proxies": ["127.0.0.0/8"], "max_body_bytes": 16},
        limits={"header_count": 5},
    )
    with start_camouflage(ctx) as cam:
        port = cam.service.ports["web"]
        body = b"A" * 100
        raw(
            port,
            b"POST /form HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.23, 127.0.0.5\r\n"
            b"Content-Length: 100\r\nConnection: close\r\n\r\n" + body,
        )
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(10))
        refused = raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert refused.startswith(b"HTTP/1.1 400 Bad Request")
        cam.flush()
        events = [e for e in _events(ctx) if e["event"] == "camouflage.request"]
        assert events[0]["source_ip"] == "198.51.100.23"
        assert events[0]["body"] == "A" * 16 and events[0]["body_length"] == 100
        assert events[1]["status"] == 400


def test_sessions_closed_go_to_the_webhook_signed(
    camouflage_ctx: Any, start_camouflage: Any, eventually: Callable[..., bool]
) -> None:
    got: list[tuple[bytes, str]] = []

    async def hook(request: Request) -> Response:
        got.append((await request.body(), request.headers["ShieldX-Signature"]))
        return Response(status_code=204)

    secret = "a-webhook-secret-of-some-length"
    with LiveServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        ctx = camouflage_ctx(
            decoys=[{"name": "web", "template": NGINX, "port": 0}],
            sessions={"idle_timeout": "200ms", "sweep_interval": "50ms"},
            webhook={"urls": [receiver.url + "/hook"], "secret": secret},
        )
        with start_camouflage(ctx) as cam:
            httpx.get(cam.decoy_url("web") + "/")
            assert eventually(lambda: len(got) >= 1)
    body, signature = got[0]
    assert verify(secret.encode(), signature, body, now=int(time.time()))
    events = json.loads(body)["events"]
    assert events[0]["event"] == "camouflage.session.closed"
    assert events[0]["requests"] == 1


def test_an_https_decoy_keeps_its_certificate_and_records_ja4(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    import ssl

    ctx = camouflage_ctx(
        decoys=[
            {
                "name": "web",
                "template": NGINX,
                "port": 0,
                "tls": True,
                "server_name": "www.shop.test",
            }
        ]
    )
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    certificates = []
    for _ in range(2):  # the same certificate after a restart
        with start_camouflage(ctx) as cam:
            port = cam.service.ports["web"]
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            with client.wrap_socket(raw, server_hostname="www.shop.test") as tls:
                certificates.append(tls.getpeercert(binary_form=True))
                tls.sendall(
                    b"GET /nope HTTP/1.1\r\nHost: www.shop.test\r\nConnection: close\r\n\r\n"
                )
                answer = b""
                while chunk := tls.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\n")
            cam.flush()
    assert certificates[0] == certificates[1]
    requests = [e for e in _events(ctx) if e["event"] == "camouflage.request"]
    assert len(requests) == 2 and all(e["ja4"].startswith("t13d") for e in requests)
