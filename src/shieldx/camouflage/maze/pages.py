"""Maze pages in each mimicked server's own style: directory listings, redirects, robots.txt.

The listings copy what the servers' own modules print: nginx's autoindex (a <pre> block,
names padded to 50 columns), Apache's mod_autoindex with Debian's FancyIndexing/HTMLTable
options, IIS directory browsing and Tomcat's DefaultServlet listing. The decoy wraps these
bodies in the server's own headers.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shieldx.camouflage.decoys import DynamicResponse
from shieldx.camouflage.maze.catalog import content_type

_DIGITS = re.compile(r"(\d+)")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a listing."""

    name: str
    is_dir: bool
    size: int
    mtime: int


@dataclass(frozen=True, slots=True)
class Server:
    """What a page needs to know about the server it pretends to be."""

    flavor: str
    config: Mapping[str, Any]
    host: str
    port: int


def _gm(mtime: int) -> time.struct_time:
    return time.gmtime(mtime)


def _href(entry: Entry) -> str:
    return quote(entry.name) + ("/" if entry.is_dir else "")


def nginx_listing(path: str, entries: Sequence[Entry]) -> bytes:
    """ngx_http_autoindex_module's HTML (autoindex_exact_size on, localtime off)."""
    title = html.escape(path, quote=False)
    out = [
        f"<html>\r\n<head><title>Index of {title}</title></head>\r\n<body>\r\n",
        f'<h1>Index of {title}</h1><hr><pre><a href="../">../</a>\r\n',
    ]
    for e in entries:
        shown = e.name + ("/" if e.is_dir else "")
        label = shown if len(shown) <= 50 else shown[:47] + "..>"
        t = _gm(e.mtime)
        date = f"{t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}"
        size = "-" if e.is_dir else str(e.size)
        pad = " " * (51 - len(label))
        out.append(
            f'<a href="{_href(e)}">{html.escape(label, quote=False)}</a>{pad}{date} {size:>19}\r\n'
        )
    out.append("</pre><hr></body>\r\n</html>\r\n")
    return "".join(out).encode("utf-8")


def _apache_size(size: int) -> str:
    """mod_autoindex's apr_strfsize: 4 columns, K/M/G with one decimal below 10."""
    if size < 973:
        return f"{size:3d} "
    for unit in "KMGTPE":
        size_f = size / 1024
        if size_f < 9.95:
            return f"{size_f:3.1f}{unit}"
        if size_f < 973:
            return f"{round(size_f):3d}{unit}"
        size = int(size_f)
    return "****"


def _apache_icon(entry: Entry) -> tuple[str, str]:
    """Debian's autoindex.conf, first match wins: by type (text/*), then by name, else default."""
    if entry.is_dir:
        return "folder.gif", "[DIR]"
    kind = content_type("apache", entry.name)
    if kind.startswith("text/"):
        return "text.gif", "[TXT]"
    if entry.name.endswith((".Z", ".z", ".tgz", ".gz", ".zip")):
        return "compressed.gif", "[   ]"
    return "unknown.gif", "[   ]"


def _version_key(name: str) -> list[tuple[int, int | str]]:
    """VersionSort: digit runs compare as numbers, the rest byte by byte."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(name) if part]


def apache_listing(path: str, entries: Sequence[Entry], server: Server) -> bytes:
    """mod_autoindex with Debian's IndexOptions FancyIndexing VersionSort HTMLTable."""
    shown_path = path.rstrip("/") or "/"
    title = html.escape(shown_path, quote=False)
    parent = path.rstrip("/").rsplit("/", 1)[0] + "/"
    signature = (
        str(server.config.get("signature", ""))
        .replace("${host}", server.host)
        .replace("${port}", str(server.port))
    )
    out = [
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n'
        "<html>\n <head>\n",
        f"  <title>Index of {title}</title>\n </head>\n <body>\n<h1>Index of {title}</h1>\n",
        '  <table>\n   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>'
        '<th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>'
        '<th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n',
        '   <tr><th colspan="5"><hr></th></tr>\n',
        '<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td>'
        f'<td><a href="{quote(parent)}">Parent Directory</a></td><td>&nbsp;</td>'
        '<td align="right">  - </td><td>&nbsp;</td></tr>\n',
    ]
    for e in sorted(entries, key=lambda e: _version_key(e.name)):  # no FoldersFirst
        icon, alt = _apache_icon(e)
        t = _gm(e.mtime)
        date = f"{t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}  "
        size = "  - " if e.is_dir else _apache_size(e.size)
        label = html.escape(e.name + ("/" if e.is_dir else ""), quote=False)
        out.append(
            f'<tr><td valign="top"><img src="/icons/{icon}" alt="{alt}"></td>'
            f'<td><a href="{_href(e)}">{label}</a></td><td align="right">{date}</td>'
            f'<td align="right">{size}</td><td>&nbsp;</td></tr>\n'
        )
    out.append('   <tr><th colspan="5"><hr></th></tr>\n</table>\n')
    out.append(f"<address>{signature}</address>\n</body></html>\n")
    return "".join(out).encode("utf-8")


def iis_listing(path: str, entries: Sequence[Entry], server: Server) -> bytes:
    """IIS directory browsing (date, time, size or <dir>, absolute links)."""
    title = html.escape(f"{server.host} - {path}", quote=False)
    parent = path.rstrip("/").rsplit("/", 1)[0] + "/"
    out = [
        f"<html><head><title>{title}</title></head><body><H1>{title}</H1><hr>\r\n\r\n<pre>",
        f'<A HREF="{quote(parent)}">[To Parent Directory]</A><br><br>',
    ]
    for e in entries:
        t = _gm(e.mtime)
        hour = t.tm_hour % 12 or 12
        half = "AM" if t.tm_hour < 12 else "PM"
        stamp = f"{t.tm_mon:>2}/{t.tm_mday}/{t.tm_year} {hour:>2}:{t.tm_min:02d} {half}"
        size = "&lt;dir&gt;" if e.is_dir else str(e.size)
        href = quote(path + e.name + ("/" if e.is_dir else ""))
        out.append(f'{stamp} {size:>12} <A HREF="{href}">{html.escape(e.name)}</A><br>')
    out.append("</pre><hr></body></html>")
    return "".join(out).encode("utf-8")


def _tomcat_size(size: int) -> str:
    kb = (size + 512) // 1024
    return f"{kb} kb" if kb else f"{size} b"


def tomcat_listing(path: str, entries: Sequence[Entry], server: Server) -> bytes:
    """Tomcat DefaultServlet's HTML listing (listings=true)."""
    parent = path.rstrip("/").rsplit("/", 1)[0] + "/"
    css = str(server.config.get("css", ""))
    info = str(server.config.get("server_info", "Apache Tomcat"))
    title = html.escape(path, quote=False)
    out = [
        f'<!doctype html><html lang="en"><head><title>Directory Listing For [{title}]</title>',
        f'<style type="text/css">{css}</style></head><body>',
        f'<h1>Directory Listing For [{title}] - <a href="{quote(parent)}"><b>Up To '
        f"[{html.escape(parent, quote=False)}]</b></a></h1>",
        '<hr class="line"><table width="100%" cellspacing="0" cellpadding="5" align="center">\r\n',
        '<tr>\r\n<td align="left"><font size="+1"><strong>Filename</strong></font></td>\r\n'
        '<td align="center"><font size="+1"><strong>Size</strong></font></td>\r\n'
        '<td align="right"><font size="+1"><strong>Last Modified</strong></font></td>\r\n</tr>',
    ]
    for i, e in enumerate(entries):
        shade = ' bgcolor="#eeeeee"' if i % 2 else ""
        t = _gm(e.mtime)
        stamp = (
            f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
        )
        name = e.name + ("/" if e.is_dir else "")
        size = "&nbsp;" if e.is_dir else _tomcat_size(e.size)
        out.append(
            f'<tr{shade}>\r\n<td align="left">&nbsp;&nbsp;\r\n'
            f'<a href="{quote(path + name)}"><tt>{html.escape(name)}</tt></a></td>\r\n'
            f'<td align="right"><tt>{size}</tt></td>\r\n<td align="right"><tt>{stamp}</tt></td>\r\n'
            "</tr>"
        )
    out.append(f'</table>\r\n<hr class="line"><h3>{info}</h3></body>\r\n</html>\r\n')
    return "".join(out).encode("utf-8")


def listing(path: str, entries: Sequence[Entry], server: Server) -> DynamicResponse:
    """A directory listing of PATH as SERVER's module prints it."""
    if server.flavor == "apache":
        return DynamicResponse(
            200, "text/html;charset=UTF-8", apache_listing(path, entries, server)
        )
    if server.flavor == "iis":
        return DynamicResponse(200, "text/html; charset=UTF-8", iis_listing(path, entries, server))
    if server.flavor == "tomcat":
        body = tomcat_listing(path, entries, server)
        return DynamicResponse(200, "text/html;charset=UTF-8", body)
    return DynamicResponse(200, "text/html", nginx_listing(path, entries), length_known=False)


def redirect(location: str, server: Server, status: int = 302) -> DynamicResponse:
    """A redirect to LOCATION (absolute) with the body each server sends with one.

    nginx and httpd pages come from the dialect (it writes their canned redirect pages, with
    the Location in its place among the headers); IIS and Tomcat bodies are written here.
    """
    where = html.escape(location)
    headers = (("Location", location),)
    if server.flavor in ("nginx", "apache"):
        return DynamicResponse(status, "text/html", b"", extra_headers=headers)
    if server.flavor == "iis":
        body = (
            "<head><title>Document Moved</title></head>\n<body><h1>Object Moved</h1>"
            f'This document may be found <a HREF="{where}">here</a></body>'
        )
        return DynamicResponse(status, "text/html; charset=UTF-8", body.encode(), 0.0, headers)
    return DynamicResponse(status, "text/html;charset=UTF-8", b"", 0.0, headers)


def moved(location: str, server: Server) -> DynamicResponse:
    """A directory asked for without its slash: 301 to LOCATION."""
    return redirect(location, server, 301)


def robots_txt(prefixes: Sequence[str]) -> DynamicResponse:
    """A robots.txt that asks crawlers to stay out of the maze (a beacon for scrapers)."""
    lines = ["User-agent: *", *(f"Disallow: {p}" for p in prefixes), ""]
    return DynamicResponse(200, "text/plain", "\n".join(lines).encode())
