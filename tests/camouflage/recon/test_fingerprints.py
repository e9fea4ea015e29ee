"""JA4H fingerprints: each part of FoxIO's definition, and what order and case change."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from typing import Any

import orjson

from shieldx.camouflage.recon.fingerprints import NO_HASH, cookie_pairs, ja4h
from shieldx.camouflage.runtime import jsonl_path


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_a_plain_client_has_no_cookies_referer_or_language() -> None:
    headers = [("Host", "victim"), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")]
    assert ja4h("GET", "HTTP/1.1", headers) == (
        f"ge11nn030000_{sha12('Host,User-Agent,Accept')}_{NO_HASH}_{NO_HASH}"
    )


def test_cookies_referer_and_language() -> None:
    headers = [
        ("Host", "victim"),
        ("Cookie", "session=abc; theme=dark"),
        ("Referer", "http://victim/"),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("cookie", "aaa=1"),
    ]
    a, b, c, d = ja4h("POST", "HTTP/1.0", headers).split("_")
    # Cookie and Referer are neither counted nor hashed with the other names.
    assert a == "po10cr02enus"
    assert b == sha12("Host,Accept-Language")
    assert c == sha12("aaa,session,theme")
    assert d == sha12("aaa=1,session=abc,theme=dark")


def test_order_and_case_of_names_change_the_hash_not_the_prefix() -> None:
    base = [("Host", "h"), ("User-Agent", "x"), ("Accept", "*/*")]
    swapped = [("User-Agent", "x"), ("Host", "h"), ("Accept", "*/*")]
    lowered = [("host", "h"), ("user-agent", "x"), ("accept", "*/*")]
    prints = {ja4h("GET", "HTTP/1.1", h) for h in (base, swapped, lowered)}
    assert len(prints) == 3
    assert {p.split("_")[0] for p in prints} == {"ge11nn030000"}


def test_edges_of_the_prefix() -> None:
    many = [(f"X-{i}", "v") for i in range(120)]
    assert ja4h("OPTIONS", "HTTP/1.1", many).startswith("op11nn99")
    assert ja4h("GET", "HTTP/1.0", []) == f"ge10nn000000_{sha12('')}_{NO_HASH}_{NO_HASH}"
    assert ja4h("GET", "HTTP/1.1", [("Accept-Language", "de")])[:12] == "ge11nn01de00"
    assert ja4h("GET", "HTTP/1.1", [("Accept-Language", "*")])[:12] == "ge11nn01*000"
    # An empty Cookie header holds no cookie.
    assert ja4h("GET", "HTTP/1.1", [("Cookie", " ")])[:8] == "ge11nn00"
    assert cookie_pairs([("Cookie", "a=1;b"), ("X", "y")]) == [("a", "a=1"), ("b", "b")]


def test_the_recon_event_carries_the_fingerprint_of_what_was_on_the_wire(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    ctx = camouflage_ctx(decoys=[{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}])
    with start_camouflage(ctx) as cam:
        port = cam.service.ports["web"]
        curl = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/curl"],
            check=True,
            timeout=30,
        )
        assert curl.returncode == 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"GET /raw HTTP/1.1\r\nuser-agent: x\r\nHOST: v\r\nCookie: b=2; a=1\r\n"
                b"Accept-Language: fr-CA\r\nConnection: close\r\n\r\n"
            )
            while s.recv(65536):
                pass
        cam.flush()
        lines = jsonl_path(ctx).read_bytes().splitlines()
        prints = {
            e["path"]: e["ja4h"]
            for e in map(orjson.loads, lines)
            if e["event"] == "camouflage.request"
        }
        assert (
            prints["/curl"] == f"ge11nn030000_{sha12('Host,User-Agent,Accept')}_{NO_HASH}_{NO_HASH}"
        )
        assert prints["/raw"] == (
            f"ge11cn04frca_{sha12('user-agent,HOST,Accept-Language,Connection')}"
            f"_{sha12('a,b')}_{sha12('a=1,b=2')}"
        )
        (session,) = [s for s in cam.service.tracker if s.user_agent == "x"]
        assert session.fingerprints == {"ja4h": {prints["/raw"]: 1}}


def test_sensor_reports_get_a_ja4h_and_may_carry_a_ja4(
    camouflage_ctx: Any, start_camouflage: Any
) -> None:
    ctx = camouflage_ctx()
    ja4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"
    report = {
        "decoy": "edge-sensor",
        "source_ip": "203.0.113.8",
        "method": "GET",
        "path": "/",
        "headers": [["Host", "shop"], ["User-Agent", "x"]],
        "ja4": ja4,
    }
    with start_camouflage(ctx) as cam:
        assert cam.api("POST", "/v1/camouflage/log", json={"events": [report]}).status_code == 200
        bad = cam.api("POST", "/v1/camouflage/log", json={"events": [{**report, "ja4": "x"}]})
        assert bad.status_code == 422 and "ja4" in bad.text
        cam.flush()
        (event,) = [
            e
            for e in map(orjson.loads, jsonl_path(ctx).read_bytes().splitlines())
            if e["event"] == "camouflage.request"
        ]
        assert event["ja4"] == ja4
        assert event["ja4h"] == f"ge11nn020000_{sha12('Host,User-Agent')}_{NO_HASH}_{NO_HASH}"
        (session,) = list(cam.service.tracker)
        assert session.fingerprints == {"ja4h": {event["ja4h"]: 1}, "ja4": {ja4: 1}}
