"""Real scanners (nmap -sV, whatweb) take each decoy for the server it mimics."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from shieldx.camouflage.decoys import DecoyServer

from .conftest import DecoyHost, require_tool

DECOYS = {
    "nginx-1.22.1-debian": "nginx 1.22.1",
    "apache-2.4.71-debian": "Apache httpd 2.4.71 ((Debian))",
    "iis-10.0": "Microsoft IIS httpd 10.0",
    "tomcat-9.0.107": "Apache Tomcat 9.0.107",
}
_PORT_LINE = re.compile(r"^(\d+)/tcp\s+open\s+(\S+)\s+(.*?)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def decoys(decoy_host: DecoyHost) -> Iterator[dict[str, DecoyServer]]:
    """All four decoys with their templates' own timeouts (as deployed)."""
    servers = {name: decoy_host.start(name, name=f"scan-{name}") for name in DECOYS}
    yield servers
    for server in servers.values():
        decoy_host.stop(server)


def _nmap(ports: str) -> dict[int, tuple[str, str]]:
    result = subprocess.run(
        ["nmap", "-sV", "-Pn", "-n", "--version-intensity", "2", "-p", ports, "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {int(p): (service, version) for p, service, version in _PORT_LINE.findall(result.stdout)}


def _whatweb(url: str, out: Path) -> dict[str, Any]:
    subprocess.run(
        ["whatweb", "--color=never", "--quiet", "-a", "3", f"--log-json={out}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    (entry,) = [e for e in json.loads(out.read_text()) if e.get("target") == url]
    plugins: dict[str, Any] = entry["plugins"]
    return plugins


@pytest.fixture(scope="module")
def scans(
    decoys: dict[str, DecoyServer], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One nmap -sV run over the four ports and one whatweb per page, all at the same time."""
    require_tool("/usr/bin/nmap", "nmap")
    require_tool("/usr/bin/whatweb", "whatweb")
    tmp = tmp_path_factory.mktemp("whatweb")
    urls = {name: f"http://127.0.0.1:{server.port}/" for name, server in decoys.items()}
    urls["tomcat-404"] = f"http://127.0.0.1:{decoys['tomcat-9.0.107'].port}/no-such-page"
    ports = ",".join(str(server.port) for server in decoys.values())
    with ThreadPoolExecutor(max_workers=len(urls) + 1) as pool:
        nmap = pool.submit(_nmap, ports)
        found = {key: pool.submit(_whatweb, url, tmp / f"{key}.json") for key, url in urls.items()}
        return {"nmap": nmap.result(), "whatweb": {k: f.result() for k, f in found.items()}}


@pytest.fixture(scope="module")
def nmap_services(scans: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """nmap's port -> (service, version)."""
    services: dict[int, tuple[str, str]] = scans["nmap"]
    return services


@pytest.fixture(scope="module")
def whatweb_plugins(scans: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """whatweb's plugin matches for each decoy's start page (and Tomcat's 404 page)."""
    plugins: dict[str, dict[str, Any]] = scans["whatweb"]
    return plugins


@pytest.mark.parametrize("template", list(DECOYS))
def test_nmap_names_the_mimicked_product_and_version(
    nmap_services: dict[int, tuple[str, str]], decoys: dict[str, DecoyServer], template: str
) -> None:
    assert nmap_services[decoys[template].port] == ("http", DECOYS[template])


@pytest.mark.parametrize(
    ("key", "plugin", "field", "expected"),
    [
        ("nginx-1.22.1-debian", "HTTPServer", "string", ["nginx/1.22.1"]),
        ("nginx-1.22.1-debian", "nginx", "version", ["1.22.1"]),
        ("apache-2.4.71-debian", "HTTPServer", "string", ["Apache/2.4.71 (Debian)"]),
        ("apache-2.4.71-debian", "HTTPServer", "os", ["Debian Linux"]),
        ("apache-2.4.71-debian", "Apache", "version", ["2.4.71"]),
        ("iis-10.0", "HTTPServer", "string", ["Microsoft-IIS/10.0"]),
        ("iis-10.0", "Microsoft-IIS", "version", ["10.0"]),
        ("iis-10.0", "X-Powered-By", "string", ["ASP.NET"]),
        ("tomcat-9.0.107", "Title", "string", ["Apache Tomcat/9.0.107"]),
        ("tomcat-404", "Apache-Tomcat", "version", ["9.0.107"]),
    ],
)
def test_whatweb_identifies_each_decoy(
    whatweb_plugins: dict[str, dict[str, Any]],
    key: str,
    plugin: str,
    field: str,
    expected: list[str],
) -> None:
    assert whatweb_plugins[key][plugin][field] == expected


def test_tomcat_like_the_real_one_sends_no_server_header(
    whatweb_plugins: dict[str, dict[str, Any]],
) -> None:
    assert "HTTPServer" not in whatweb_plugins["tomcat-9.0.107"]
