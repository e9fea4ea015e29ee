"""Run Debian's real nginx and apache2 on loopback ports, configured as Debian ships them.

The configurations below are Debian 12's defaults with only what a test needs changed: the
listen address (a free loopback port), the runtime directories (a temporary directory), the
document root (a copy of Debian's default page with a fixed mtime, so Last-Modified and ETag are
reproducible), shorter client timeouts (so slow-client behaviour can be observed in seconds),
and for Apache a global ServerName (otherwise it is guessed from this machine's hostname).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NGINX = Path("/usr/sbin/nginx")
APACHE = Path("/usr/sbin/apache2")
NGINX_DEFAULT_PAGE = Path("/var/www/html/index.nginx-debian.html")
APACHE_DEFAULT_PAGE = Path("/usr/share/apache2/default-site/index.html")
APACHE_CONF = Path("/etc/apache2")

#: Timeouts the real servers are given in tests (and the decoys are given to match).
HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 2
#: Debian's apache2 has no ServerName; the tests give it (and the decoy) this one.
APACHE_SERVER_NAME = "www.example.test"


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 10.0) -> None:
    """Poll until something accepts connections on the port, or fail with the server's log."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {deadline_s}s")


@dataclass
class RealServer:
    """A running real server process on a loopback port."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    root: Path

    def stop(self) -> None:
        """Stop the server (its whole process group) and wait for it."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _docroot(root: Path, page: Path, name: str, mtime: int) -> Path:
    html = root / "html"
    html.mkdir()
    target = html / name
    shutil.copyfile(page, target)
    os.utime(target, (mtime, mtime))
    for d in (root, html):
        d.chmod(0o755)
    target.chmod(0o644)
    return html


def nginx_config(root: Path, port: int, html: Path) -> str:
    """Debian 12's nginx.conf and sites-available/default, relocated under root."""
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{
    worker_connections 768;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {root}/access.log;
    gzip on;
    client_header_timeout {HEADER_TIMEOUT_S}s;
    client_body_timeout {BODY_TIMEOUT_S}s;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} default_server;
        root {html};
        index index.html index.htm index.nginx-debian.html;
        server_name _;
        location / {{
            try_files $uri $uri/ =404;
        }}
    }}
}}
"""


def start_nginx(root: Path, *, mtime: int) -> RealServer:
    """Start nginx as Debian configures it, serving Debian's default page."""
    port = free_port()
    html = _docroot(root, NGINX_DEFAULT_PAGE, "index.nginx-debian.html", mtime)
    conf = root / "nginx.conf"
    conf.write_text(nginx_config(root, port, html))
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(root), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_listening(port, proc)
    return RealServer("nginx", port, proc, root)


def apache_config(root: Path, port: int, html: Path) -> str:
    """Debian 12's apache2.conf with its ports.conf and 000-default site, relocated under root."""
    main = (APACHE_CONF / "apache2.conf").read_text()
    main = main.replace("<Directory /var/www/>", f"<Directory {html}/>")
    main = main.replace(
        "Include ports.conf", "Include ports.conf\nServerName " + APACHE_SERVER_NAME
    )
    return main + f"\nRequestReadTimeout header={HEADER_TIMEOUT_S} body={BODY_TIMEOUT_S}\n"


def start_apache(root: Path, *, mtime: int) -> RealServer:
    """Start apache2 as Debian configures it, serving Debian's default page."""
    port = free_port()
    html = _docroot(root, APACHE_DEFAULT_PAGE, "index.html", mtime)
    for sub in ("mods-available", "mods-enabled", "conf-available", "conf-enabled", "magic"):
        (root / sub).symlink_to(APACHE_CONF / sub)
    (root / "ports.conf").write_text(f"Listen 127.0.0.1:{port}\n")
    sites = root / "sites-enabled"
    sites.mkdir()
    site = (APACHE_CONF / "sites-available" / "000-default.conf").read_text()
    site = site.replace("<VirtualHost *:80>", f"<VirtualHost *:{port}>")
    site = site.replace("DocumentRoot /var/www/html", f"DocumentRoot {html}")
    (sites / "000-default.conf").write_text(site)
    (root / "apache2.conf").write_text(apache_config(root, port, html))
    for sub in ("run", "lock", "log"):
        (root / sub).mkdir()
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C",
        "APACHE_RUN_USER": "www-data",
        "APACHE_RUN_GROUP": "www-data",
        "APACHE_PID_FILE": f"{root}/run/apache2.pid",
        "APACHE_RUN_DIR": f"{root}/run",
        "APACHE_LOCK_DIR": f"{root}/lock",
        "APACHE_LOG_DIR": f"{root}/log",
    }
    proc = subprocess.Popen(
        [str(APACHE), "-d", str(root), "-f", str(root / "apache2.conf"), "-DFOREGROUND"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_listening(port, proc)
    return RealServer("apache", port, proc, root)
