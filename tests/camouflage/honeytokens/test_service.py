"""Honeytokens end to end: a decoy hands out a key, another service refuses it, we attribute it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from shieldx.camouflage.runtime import jsonl_path
from shieldx.platform.app import create_app
from shieldx.platform.bus import EventBus
from shieldx.platform.db import create_database
from shieldx.platform.honeytokens import HoneytokenRegistry, token_hash
from shieldx.services import SERVICES

NGINX = "nginx-1.22.1-debian"
KEY = re.compile(r"sk_live_[A-Za-z0-9]{24}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _comparable(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    body.pop("request_id", None)
    headers = sorted(
        k for k in response.headers if k.lower() not in ("date", "x-request-id", "content-length")
    )
    return response.status_code, headers, body


def _used(cam: Any) -> list[dict[str, Any]]:
    cam.flush()
    lines = jsonl_path(cam.ctx).read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event"] == "camouflage.honeytoken.used"]


def test_a_key_from_a_decoy_page_is_refused_elsewhere_and_attributed(
    camouflage_ctx: Any, start_camouflage: Any, eventually: Callable[..., bool]
) -> None:
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": NGINX, "port": 0}])
    credits = create_app(ctx, "credits", SERVICES["credits"].factory())
    with start_camouflage(ctx, {"credits": credits}) as cam:
        page = httpx.get(cam.decoy_url("web") + "/.env", headers={"User-Agent": "curl/8.5.0"})
        assert page.status_code == 200
        assert page.headers["server"] == "nginx/1.22.1"
        key = KEY.search(page.text)
        token = JWT.search(page.text)
        assert key is not None and token is not None
        cam.flush()
        sessions = cam.api("GET", "/v1/camouflage/sessions").json()["sessions"]
        (seen,) = [s for s in sessions if s["user_agent"] == "curl/8.5.0"]
        assert seen["honeytokens_taken"] == 5

        whoami = cam.urls["credits"] + "/whoami"
        planted = httpx.get(whoami, headers={"Authorization": f"Bearer {key.group(0)}"})
        random_key = "sk_live_" + secrets.token_hex(12)
        unknown = httpx.get(whoami, headers={"Authorization": f"Bearer {random_key}"})
        assert planted.status_code == 401
        assert _comparable(planted) == _comparable(unknown)
        as_token = httpx.get(whoami, headers={"Authorization": f"Bearer {token.group(0)}"})
        assert as_token.status_code == 401

        assert eventually(lambda: len(_used(cam)) >= 2)
        used = {e["kind"]: e for e in _used(cam)}
        assert set(used) == {"api_key", "jwt"}
        alert = used["api_key"]
        assert alert["severity"] == "high"
        assert alert["session_id"] == seen["session_id"] and alert["decoy"] == "web"
        assert alert["location"] == "api_key" and alert["source"] == "127.0.0.1"
        assert alert["session_live"] is True and alert["user_agent"] == "curl/8.5.0"

        detail = cam.api("GET", f"/v1/camouflage/session/{seen['session_id']}").json()
        assert detail["engagement"]["honeytokens_used"] == 2
        by_kind = {t["kind"]: t for t in detail["honeytokens"]}
        assert by_kind["api_key"]["uses"] == 1 and by_kind["api_key"]["path"] == "/.env"
        assert by_kind["password"]["uses"] == 0
        metrics = httpx.get(cam.url + "/metrics").text
        assert "camouflage_honeytokens_used_total 2.0" in metrics
        assert 'camouflage_honeytokens_planted_total{kind="api_key"} 1.0' in metrics


def test_uses_recorded_by_another_process_are_picked_up(
    camouflage_ctx: Any, start_camouflage: Any, eventually: Callable[..., bool]
) -> None:
    ctx = camouflage_ctx(
        decoys=[{"name": "web", "template": NGINX, "port": 0}],
        honeytokens={"poll_interval": "100ms"},
    )
    with start_camouflage(ctx) as cam:
        page = httpx.get(
            cam.decoy_url("web") + "/.aws/credentials", headers={"User-Agent": "aws-cli/2"}
        )
        key_id = re.search(r"AKIA[A-Z2-7]{16}", page.text)
        assert key_id is not None
        # Another process (its own engine and bus) records the use; nothing is published here.
        other = HoneytokenRegistry(create_database(ctx.settings), EventBus())
        uses = other.check_now(
            [(token_hash(key_id.group(0)), "introspect", "203.0.113.66", datetime.now(UTC))]
        )
        assert len(uses) == 1
        assert eventually(lambda: len(_used(cam)) == 1)
        (alert,) = _used(cam)
        assert alert["kind"] == "cloud_key" and alert["location"] == "introspect"
        assert alert["source"] == "203.0.113.66"
    # The cursor was stored: after a restart the same use is not reported again.
    with start_camouflage(ctx) as cam:
        assert cam.call(cam.service.watcher.poll()) == 0
        assert len(_used(cam)) == 1
