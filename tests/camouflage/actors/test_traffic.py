"""Attribution from real traffic over loopback: curl, httpx, nmap and whatweb from distinct addresses.

127.0.0.2 (curl) fetches a bait file; 127.0.0.3 (httpx, another header order) browses the decoy
and presents one of the credentials it saw at another service: one actor. nmap -sV (127.0.0.4)
and whatweb (127.0.0.1) stay actors of their own. Then the same data through the API (roles,
tenant scope), the CLI (`actors --json`) and the STIX export, parsed strictly by stix2.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import stix2

from shieldx.platform.app import create_app
from shieldx.platform.honeytokens import honeytokens, token_hash
from shieldx.services import SERVICES
from shieldx.testing.fixtures import need_tool

NGINX = "nginx-1.22.1-debian"
# Values as config files write them: after "=" or ":", or quoted; with or without "=" padding.
_WORDS = (re.compile(r"[^\s\"'=:,;]{8,}"), re.compile(r"[^\s\"':,;]{8,}"))


def planted_values(ctx: Any, text: str) -> list[str]:
    """The words of TEXT that are planted honeytokens (found by hash, whatever their format)."""
    words = {w for pattern in _WORDS for w in pattern.findall(text)}
    with ctx.db.read() as conn:
        known = set(conn.execute(sa.select(honeytokens.c.token_hash)).scalars())
    return sorted(w for w in words if token_hash(w) in known)


def shieldx(*args: str, data_dir: Path) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    return subprocess.run(
        [sys.executable, "-m", "shieldx", *args],
        capture_output=True,
        env={**clean, "SHIELDX_DATA_DIR": str(data_dir), "SHIELDX_LOGGING_LEVEL": "warning"},
        timeout=120,
        check=False,
    )


def test_a_shared_honeytoken_makes_one_actor_and_scanners_stay_apart(
    camouflage_ctx: Any,
    start_camouflage: Any,
    eventually: Callable[..., bool],
    tmp_path: Path,
) -> None:
    for tool in ("nmap", "whatweb", "curl"):
        need_tool(tool)
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": NGINX, "port": 0}])
    credits = create_app(ctx, "credits", SERVICES["credits"].factory())
    with start_camouflage(ctx, {"credits": credits}) as cam:
        base = cam.decoy_url("web")
        port = cam.service.ports["web"]
        # 127.0.0.2: curl takes a bait file.
        bait = subprocess.run(
            ["curl", "-s", "--interface", "127.0.0.2", base + "/.env"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "--interface", "127.0.0.2", base + "/"],
            check=True,
            timeout=30,
        )
        tokens = planted_values(ctx, bait)
        assert tokens, "the bait file holds no planted credential"
        # 127.0.0.3: another client (its own header order), then the stolen credential.
        moved = httpx.HTTPTransport(local_address="127.0.0.3")
        with httpx.Client(transport=moved, headers={"Accept-Language": "en-GB"}) as client:
            for path in ("/", "/admin/", "/.git/config"):
                client.get(base + path)
            used = client.get(
                cam.urls["credits"] + "/whoami", headers={"Authorization": f"Bearer {tokens[0]}"}
            )
        assert used.status_code == 401
        # Unrelated scanners from their own addresses.
        subprocess.run(
            ["nmap", "-sV", "-Pn", "-n", "--version-intensity", "2", "-p", str(port),
             "-S", "127.0.0.4", "-e", "lo", "127.0.0.1"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            ["whatweb", "--color=never", "--quiet", "-a", "1", base + "/"],
            capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        assert eventually(lambda: _used(cam), 15)
        cam.flush()

        listed = cam.api("GET", "/v1/camouflage/actors").json()
        by_address = {a: actor for actor in listed["actors"] for a in actor["addresses"]}
        thief = by_address["127.0.0.2"]
        assert by_address["127.0.0.3"]["id"] == thief["id"]
        assert by_address["127.0.0.4"]["id"] != thief["id"]
        assert by_address["127.0.0.1"]["id"] not in (thief["id"], by_address["127.0.0.4"]["id"])
        assert thief["score"] >= 0.9
        assert {t["id"] for t in thief["techniques"]} >= {"T1595", "T1552.001", "T1078"}
        assert "honeytoken_reuse" in {e["type"] for e in thief["evidence"]}
        assert len(thief["fingerprints"]["ja4h"]) >= 2  # curl's and httpx's
        nmap = by_address["127.0.0.4"]
        assert "nmap" in nmap["tools"] and "T1592.002" in {t["id"] for t in nmap["techniques"]}

        detail = cam.api("GET", f"/v1/camouflage/actors/{thief['id']}").json()
        assert {s["source_ip"] for s in detail["sessions"]} == {"127.0.0.2", "127.0.0.3"}
        (taken,) = [h for h in detail["honeytokens"] if h["uses"]]
        assert taken["path"] == "/.env" and taken["uses"][0]["source"] == "127.0.0.3"

        # Readers only, platform-wide keys only, and a clear 404 / 422.
        assert cam.api("GET", "/v1/camouflage/actors", role="scoped").status_code == 403
        assert cam.api("GET", "/v1/camouflage/actors", role="service").status_code == 403
        assert cam.api("GET", "/v1/camouflage/actors", role="auditor").status_code == 200
        missing = cam.api("GET", "/v1/camouflage/actors/act_0000000000000000")
        assert missing.status_code == 404 and missing.json()["type"].endswith("unknown-actor")
        assert cam.api("GET", "/v1/camouflage/actors/nope").status_code == 422

    # The service stopped: every session is stored; the CLI reads them from the database.
    data_dir = ctx.settings.data_dir
    result = shieldx("camouflage", "actors", "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert all({"id", "score", "sessions", "techniques", "evidence"} <= set(r) for r in rows)
    (stored_thief,) = [r for r in rows if "127.0.0.3" in r["addresses"]]
    assert stored_thief["id"] == thief["id"] and "127.0.0.2" in stored_thief["addresses"]

    table = shieldx("camouflage", "actors", data_dir=data_dir)
    assert table.returncode == 0, table.stderr
    assert f"{thief['id']}  score" in table.stdout.decode()
    assert "honeytoken_reuse:" in table.stdout.decode()

    out = tmp_path / "actors.stix.json"
    exported = shieldx("camouflage", "export-stix", "--output", str(out), data_dir=data_dir)
    assert exported.returncode == 0, exported.stderr
    bundle = stix2.parse(out.read_text(), allow_custom=False)
    types = {o.type for o in bundle.objects}
    assert {"threat-actor", "identity", "indicator", "attack-pattern", "relationship",
            "sighting"} <= types  # fmt: skip
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert "[ipv4-addr:value = '127.0.0.3']" in patterns
    assert any("x_ja4h" in p for p in patterns) and any("x_honeytoken_id" in p for p in patterns)
    ids = {
        ref["external_id"]
        for o in bundle.objects
        if o.type == "attack-pattern"
        for ref in o.external_references
    }
    assert {"T1595", "T1552.001", "T1078"} <= ids
    bad = shieldx("camouflage", "actors", "--since", "yesterday", data_dir=data_dir)
    assert bad.returncode == 2 and b"ISO 8601" in bad.stderr


def _used(cam: Any) -> bool:
    return any(s.honeytokens_used for s in cam.service.tracker)


def test_one_client_from_two_addresses_is_grouped_by_its_fingerprints(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    need_tool("curl")
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": NGINX, "port": 0}])
    with start_camouflage(ctx) as cam:
        base = cam.decoy_url("web")
        paths = ["/", "/.git/HEAD", "/backup.zip", "/wp-login.php"]
        # The same scripted client (its own header set and order) from two addresses.
        for source in ("127.0.0.5", "127.0.0.6"):
            subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "--interface", source,
                 "-H", "X-Scan-Id: 7", "-H", "Accept-Language: de-DE", "-A", "reconbot/2.1",
                 *[base + p for p in paths]],
                check=True, timeout=60,
            )  # fmt: skip
        # The same User-Agent from a third address, another client and other paths.
        other = httpx.HTTPTransport(local_address="127.0.0.7")
        with httpx.Client(transport=other, headers={"User-Agent": "reconbot/2.1"}) as client:
            for path in ("/index.html", "/robots.txt", "/server-status"):
                client.get(base + path)
        cam.flush()
        actors = cam.api("GET", "/v1/camouflage/actors").json()["actors"]
        by_address = {a: actor for actor in actors for a in actor["addresses"]}
        pair = by_address["127.0.0.5"]
        assert by_address["127.0.0.6"]["id"] == pair["id"]
        assert by_address["127.0.0.7"]["id"] != pair["id"]
        kinds = {e["type"] for e in pair["evidence"]}
        assert {"ja4h", "user_agent", "path_sequence"} <= kinds
        assert "honeytoken_reuse" not in kinds and "shared_address" not in kinds
        (print_,) = pair["fingerprints"]["ja4h"]
        assert print_.startswith(
            "ge11nn05dede_"
        )  # Host, User-Agent, Accept, X-Scan-Id, Accept-Language
        assert by_address["127.0.0.7"]["fingerprints"]["ja4h"] != [print_]
        assert 0.6 <= pair["score"] < 0.9
