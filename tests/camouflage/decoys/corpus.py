"""The requests sent to both a real server and its decoy, whose answers must be byte-equal.

Each entry is (name, raw bytes). They cover normal requests, missing resources, odd and unknown
methods, HEAD and OPTIONS, HTTP/1.0 without Host, HTTP/0.9, bad versions, malformed request
lines and header lines, over-long URIs and headers, conditional, range and compressed requests,
keep-alive and pipelining, and what nmap's own probes send.
"""

from __future__ import annotations

import re

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"


def _get(path: str, *headers: str, method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", "Host: x", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


CORPUS: list[tuple[str, bytes]] = [
    # normal and missing
    ("get-root", _get("/")),
    ("get-root-http10-no-host", b"GET / HTTP/1.0\r\n\r\n"),
    ("get-root-http10-keepalive", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    ("get-root-close", _get("/", "Connection: close")),
    ("get-missing", _get("/nope")),
    ("get-missing-query", _get("/nope.php?id=1%27--")),
    ("get-query-root", _get("/?a=b")),
    ("get-index-html", _get("/index.html")),
    ("get-nginx-index", _get("/index.nginx-debian.html")),
    ("get-dotenv", _get("/.env")),
    ("get-git-config", _get("/.git/config")),
    ("get-htaccess", _get("/.htaccess")),
    ("get-favicon", _get("/favicon.ico")),
    ("get-icons-dir", _get("/icons/")),
    ("get-icons-logo", _get("/icons/openlogo-75.png")),
    ("get-icons-no-slash", _get("/icons")),
    ("get-admin-dir", _get("/admin/")),
    ("get-cgi-bin", _get("/cgi-bin/")),
    ("get-dot-segments", _get("/a/../")),
    ("get-double-slash", _get("//")),
    ("get-encoded-slash", _get("/a%2Fb")),
    ("get-fragment", _get("/nope#frag")),
    ("get-utf8", _get("/caf\u00e9".encode().decode("latin-1"))),
    ("get-script-tag", _get("/<script>alert(1)</script>")),
    ("get-long-segment", _get("/" + "a" * 300)),
    ("get-chrome-missing", _get("/nope", f"User-Agent: {CHROME}")),
    ("get-firefox-missing", _get("/nope", f"User-Agent: {FIREFOX}")),
    ("get-msie-missing", _get("/nope", "User-Agent: Mozilla/4.0 (compatible; MSIE 8.0)")),
    ("nmap-404-probe", b"GET /nice%20ports%2C/Tri%6Eity.txt%2ebak HTTP/1.0\r\n\r\n"),
    # methods
    ("head-root", _get("/", method="HEAD")),
    ("head-missing", _get("/nope", method="HEAD")),
    ("options-root", _get("/", method="OPTIONS")),
    ("options-missing", _get("/nope", method="OPTIONS")),
    ("options-star", _get("*", method="OPTIONS")),
    ("options-http10", b"OPTIONS / HTTP/1.0\r\n\r\n"),
    ("post-root", _get("/", "Content-Length: 3", method="POST") + b"abc"),
    ("post-missing", _get("/nope", "Content-Length: 3", method="POST") + b"abc"),
    (
        "post-chunked",
        _get("/", "Transfer-Encoding: chunked", method="POST") + b"3\r\nabc\r\n0\r\n\r\n",
    ),
    ("put-root", _get("/", "Content-Length: 3", method="PUT") + b"abc"),
    ("put-missing", _get("/nope", "Content-Length: 0", method="PUT")),
    ("delete-root", _get("/", method="DELETE")),
    ("patch-root", _get("/", method="PATCH")),
    ("trace-root", _get("/", method="TRACE")),
    ("propfind-root", _get("/", method="PROPFIND")),
    ("unknown-method", _get("/", method="FOO")),
    ("lowercase-method", _get("/", method="get")),
    ("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
    # versions and request lines
    ("http11-no-host", b"GET / HTTP/1.1\r\n\r\n"),
    ("http20", _get("/", version="HTTP/2.0")),
    ("http12", _get("/", version="HTTP/1.2")),
    ("http99", _get("/", version="HTTP/9.9")),
    ("http09-explicit", _get("/", version="HTTP/0.9")),
    ("lowercase-version", _get("/", version="http/1.1")),
    ("bad-protocol", _get("/", version="FOO/1.0")),
    ("rtsp", b"OPTIONS / RTSP/1.0\r\n\r\n"),
    ("http09", b"GET /\r\n\r\n"),
    ("http09-missing", b"GET /nope\r\n"),
    ("http09-post", b"POST /\r\n"),
    ("extra-token", b"GET / HTTP/1.1 x\r\nHost: x\r\n\r\n"),
    ("double-space", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("tabs", b"GET\t/\tHTTP/1.1\r\nHost: x\r\n\r\n"),
    ("bare-lf", b"GET / HTTP/1.1\nHost: x\n\n"),
    ("garbage", b"GARBAGE\r\n\r\n"),
    ("method-only", b"GET\r\n\r\n"),
    ("no-slash-target", _get("nohost")),
    ("absolute-uri", _get("http://example.com/")),
    ("absolute-uri-missing", _get("http://example.com/nope")),
    ("nul-in-target", _get("/\x00")),
    ("ctl-in-target", _get("/a\x01b")),
    ("percent-nul", _get("/%00")),
    ("bad-escape", _get("/%zz")),
    ("traversal", _get("/../../etc/passwd")),
    ("encoded-traversal", _get("/%2e%2e/%2e%2e/etc/passwd")),
    ("tls-hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n"),
    # headers
    ("duplicate-host", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    ("host-with-space", b"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n"),
    ("host-with-port", b"GET /nope HTTP/1.1\r\nHost: x:99\r\n\r\n"),
    ("host-uppercase-dot", b"GET /nope HTTP/1.1\r\nHost: EXAMPLE.com.:8080\r\n\r\n"),
    ("host-html", b"GET /nope HTTP/1.1\r\nHost: <b>x</b>\r\n\r\n"),
    ("empty-host", b"GET / HTTP/1.1\r\nHost: \r\n\r\n"),
    ("header-no-colon", _get("/", "BadHeader")),
    ("header-space-before-colon", _get("/", "X-A : b")),
    ("header-underscore", _get("/", "X_A: b")),
    ("header-obs-fold", _get("/", "X-A: b", "  folded")),
    ("header-ctl-value", _get("/", "X-A: a\x01b")),
    ("bad-content-length", _get("/", "Content-Length: abc")),
    ("two-content-lengths", _get("/", "Content-Length: 1", "Content-Length: 1") + b"a"),
    ("unknown-transfer-encoding", _get("/", "Transfer-Encoding: gzip", method="POST")),
    ("large-content-length", _get("/", "Content-Length: 2000000", method="POST")),
    ("expect-continue", _get("/", "Expect: 100-continue", "Content-Length: 0", method="POST")),
    ("expect-continue-body", _get("/", "Expect: 100-continue", "Content-Length: 3", method="POST")),
    ("long-uri-8190", _get("/" + "a" * 8175)),
    ("long-uri-8191", _get("/" + "a" * 8176)),
    ("long-uri-8192", _get("/" + "a" * 8177)),
    ("long-uri-9000", _get("/" + "a" * 9000)),
    ("long-header-9000", _get("/", "X-Long: " + "b" * 9000)),
    ("many-headers-101", _get("/", *(f"X-H{i}: v" for i in range(101)))),
    ("long-cookie", _get("/", "Cookie: a=" + "c" * 8000, "Cookie: b=" + "c" * 8000)),
    # conditional, ranges, compression
    ("if-modified-since", _get("/", f"If-Modified-Since: {LAST_MODIFIED}")),
    ("if-modified-since-other", _get("/", "If-Modified-Since: Mon, 01 Jan 2024 00:00:00 GMT")),
    ("range-first-10", _get("/", "Range: bytes=0-9")),
    ("range-suffix", _get("/", "Range: bytes=-5")),
    ("range-unsatisfiable", _get("/", "Range: bytes=99999-")),
    ("gzip-root", _get("/", "Accept-Encoding: gzip")),
    ("gzip-missing", _get("/", "Accept-Encoding: gzip, deflate, br")),
    ("gzip-404", _get("/nope", "Accept-Encoding: gzip")),
    ("gzip-q0", _get("/", "Accept-Encoding: gzip;q=0")),
    ("gzip-http10", b"GET / HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n"),
    ("gzip-head", _get("/", "Accept-Encoding: gzip", method="HEAD")),
    ("gzip-head-missing", _get("/nope", "Accept-Encoding: gzip", method="HEAD")),
    ("if-none-match", _get("/", 'If-None-Match: "29cd-60a24181e4000"')),
    ("if-none-match-nginx", _get("/", 'If-None-Match: "6553f100-267"')),
    (
        "if-none-match-gzip",
        _get("/", 'If-None-Match: "29cd-60a24181e4000-gzip"', "Accept-Encoding: gzip"),
    ),
    ("if-unmodified-since-old", _get("/", "If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT")),
    ("if-match-other", _get("/", 'If-Match: "other"')),
    ("if-modified-since-old", _get("/", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT")),
    ("if-modified-since-garbage", _get("/", "If-Modified-Since: garbage")),
    ("if-modified-since-future", _get("/", "If-Modified-Since: Mon, 01 Jan 2035 00:00:00 GMT")),
    ("range-gzip", _get("/", "Range: bytes=0-9", "Accept-Encoding: gzip")),
    ("range-http10-unsatisfiable", b"GET / HTTP/1.0\r\nRange: bytes=99999-\r\n\r\n"),
    ("gzip-png", _get("/icons/openlogo-75.png", "Accept-Encoding: gzip")),
    # more paths and methods
    ("options-htaccess", _get("/.htaccess", method="OPTIONS")),
    ("put-htaccess", _get("/.htaccess", "Content-Length: 0", method="PUT")),
    ("put-icons-dir", _get("/icons/", "Content-Length: 0", method="PUT")),
    ("delete-missing", _get("/nope", method="DELETE")),
    ("trace-missing", _get("/nope", method="TRACE")),
    ("unknown-method-missing", _get("/nope", method="FOO")),
    ("path-info", _get("/index.html/foo")),
    ("path-info-slash", _get("/index.html/")),
    (
        "te-and-cl",
        _get("/", "Transfer-Encoding: chunked", "Content-Length: 3", method="POST")
        + b"3\r\nabc\r\n0\r\n\r\n",
    ),
    (
        "http10-chunked",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ),
    ("header-8190", _get("/", "X-Long: " + "b" * 8182)),
    ("header-8191", _get("/", "X-Long: " + "b" * 8183)),
    ("header-8192", _get("/", "X-Long: " + "b" * 8184)),
    ("header-buffers-4x7000", _get("/", *(f"X-{i}: " + "c" * 7000 for i in range(4)))),
    ("header-buffers-5x7000", _get("/", *(f"X-{i}: " + "c" * 7000 for i in range(5)))),
    ("header-buffers-5x5000", _get("/", *(f"X-{i}: " + "c" * 5000 for i in range(5)))),
    ("header-buffers-8x4000", _get("/", *(f"X-{i}: " + "c" * 4000 for i in range(8)))),
    ("header-buffers-9x4000", _get("/", *(f"X-{i}: " + "c" * 4000 for i in range(9)))),
    ("two-headers-8010", _get("/", "X-A: " + "c" * 8005, "X-B: " + "c" * 8005)),
    ("headers-100", _get("/", *(f"X-H{i}: v" for i in range(99)))),
    # keep-alive and pipelining
    ("pipelined", _get("/") + _get("/nope") + _get("/", method="HEAD")),
    ("pipelined-http10", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 3),
    ("pipelined-after-error", _get("/nope") + b"GARBAGE\r\n\r\n" + _get("/")),
    ("blank-lines-first", b"\r\n\r\n" + _get("/")),
]

#: What both real servers answer for requests scanners send at the edges of the protocol.
_BINARY = bytes((i * 37 + 11) % 256 for i in range(512)).replace(b"\n", b"\x00")
_TLS = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\x20" + bytes(32)
NGINX_ETAG = '"6553f100-267"'
APACHE_ETAG = '"29cd-60a24181e4000"'

CORPUS += [
    # methods
    ("connect-path", _get("/", method="CONNECT")),
    ("connect-http10", b"CONNECT example.com:443 HTTP/1.0\r\n\r\n"),
    ("connect-no-port", b"CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"),
    ("trace-http10", b"TRACE / HTTP/1.0\r\n\r\n"),
    ("mkcol-root", _get("/x/", method="MKCOL")),
    ("copy-root", _get("/", method="COPY")),
    ("search-root", _get("/", method="SEARCH")),
    ("options-icons", _get("/icons/", method="OPTIONS")),
    ("head-http10", b"HEAD / HTTP/1.0\r\n\r\n"),
    ("delete-index", _get("/index.html", method="DELETE")),
    # Expect
    ("expect-foo", _get("/", "Expect: foo")),
    ("expect-foo-post", _get("/", "Expect: foo", "Content-Length: 3", method="POST") + b"abc"),
    ("expect-continue-get", _get("/", "Expect: 100-continue")),
    (
        "expect-continue-http10",
        b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "expect-continue-upper",
        _get("/", "Expect: 100-Continue", "Content-Length: 0", method="POST"),
    ),
    # bodies
    ("get-with-body", _get("/", "Content-Length: 5") + b"hello"),
    ("post-cl-zero", _get("/", "Content-Length: 0", method="POST")),
    (
        "post-chunked-ext",
        _get("/", "Transfer-Encoding: chunked", method="POST") + b"3;x=y\r\nabc\r\n0\r\n\r\n",
    ),
    (
        "post-chunked-trailer",
        _get("/", "Transfer-Encoding: chunked", method="POST") + b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    ),
    (
        "post-chunked-bad-size",
        _get("/", "Transfer-Encoding: chunked", method="POST") + b"zz\r\n\r\n",
    ),
    ("post-negative-length", _get("/", "Content-Length: -1", method="POST")),
    (
        "post-missing-chunked",
        _get("/nope", "Transfer-Encoding: chunked", method="POST") + b"0\r\n\r\n",
    ),
    # ranges
    ("range-multi", _get("/", "Range: bytes=0-10,20-30")),
    ("range-multi-overlap", _get("/", "Range: bytes=0-10,5-15")),
    ("range-multi-suffix", _get("/", "Range: bytes=0-0,-1")),
    ("range-multi-one-bad", _get("/", "Range: bytes=0-1,99999-")),
    ("range-multi-all-bad", _get("/", "Range: bytes=99998-,99999-")),
    ("range-multi-head", _get("/", "Range: bytes=0-10,20-30", method="HEAD")),
    ("range-open", _get("/", "Range: bytes=10-")),
    ("range-reversed", _get("/", "Range: bytes=10-5")),
    ("range-other-unit", _get("/", "Range: items=0-1")),
    ("range-space", _get("/", "Range: bytes= 0-1")),
    ("range-beyond-end", _get("/", "Range: bytes=0-99999")),
    ("range-zero-suffix", _get("/", "Range: bytes=-0")),
    ("range-head", _get("/", "Range: bytes=0-9", method="HEAD")),
    ("range-missing", _get("/nope", "Range: bytes=0-9")),
    ("range-png", _get("/icons/openlogo-75.png", "Range: bytes=0-15")),
    ("if-range-date", _get("/", "Range: bytes=0-9", f"If-Range: {LAST_MODIFIED}")),
    ("if-range-old-date", _get("/", "Range: bytes=0-9", "If-Range: Mon, 01 Jan 2001 00:00:00 GMT")),
    ("if-range-nginx-etag", _get("/", "Range: bytes=0-9", f"If-Range: {NGINX_ETAG}")),
    ("if-range-apache-etag", _get("/", "Range: bytes=0-9", f"If-Range: {APACHE_ETAG}")),
    ("if-range-other-etag", _get("/", "Range: bytes=0-9", 'If-Range: "x"')),
    # conditionals
    ("if-none-match-star", _get("/", "If-None-Match: *")),
    ("if-none-match-list", _get("/", f'If-None-Match: "a", {NGINX_ETAG}, {APACHE_ETAG}')),
    ("if-none-match-weak", _get("/", f"If-None-Match: W/{NGINX_ETAG}, W/{APACHE_ETAG}")),
    ("if-none-match-head", _get("/", f"If-None-Match: {NGINX_ETAG}, {APACHE_ETAG}", method="HEAD")),
    ("if-match-star", _get("/", "If-Match: *")),
    ("if-match-real", _get("/", f"If-Match: {NGINX_ETAG}, {APACHE_ETAG}")),
    ("ims-and-inm-other", _get("/", f"If-Modified-Since: {LAST_MODIFIED}", 'If-None-Match: "x"')),
    (
        "ims-and-inm-match",
        _get(
            "/",
            f"If-Modified-Since: {LAST_MODIFIED}",
            f"If-None-Match: {NGINX_ETAG}, {APACHE_ETAG}",
        ),
    ),
    ("if-unmodified-since-future", _get("/", "If-Unmodified-Since: Mon, 01 Jan 2035 00:00:00 GMT")),
    ("ims-missing", _get("/nope", f"If-Modified-Since: {LAST_MODIFIED}")),
    ("ims-http10", f"GET / HTTP/1.0\r\nIf-Modified-Since: {LAST_MODIFIED}\r\n\r\n".encode()),
    # protocol edges
    ("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("binary-no-newline", _BINARY),
    ("tls-hello-no-newline", _TLS),
    ("nul-bytes", b"\x00" * 16),
    ("ssh-banner", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
    ("lowercase-header-names", b"GET / HTTP/1.1\r\nhost: x\r\nuser-agent: a\r\n\r\n"),
    ("uppercase-host-name", b"GET /nope HTTP/1.1\r\nHOST: x\r\n\r\n"),
    ("absolute-https", _get("https://example.com/")),
    (
        "http11-keepalive-http10-header",
        b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: x\r\n\r\n",
    ),
    ("sip-options", b"OPTIONS sip:nm SIP/2.0\r\n\r\n"),
    # static files
    ("get-index-query", _get("/index.html?x=1")),
    ("get-index-encoded", _get("/%69ndex.html")),
    ("get-index-upper", _get("/INDEX.HTML")),
    ("get-index-dot-slash", _get("/./index.html")),
    ("get-index-trailing-dot", _get("/index.html.")),
    ("get-icons-missing", _get("/icons/nope.gif")),
    ("head-png", _get("/icons/openlogo-75.png", method="HEAD")),
    ("get-icon-blank", _get("/icons/blank.gif")),
    ("get-icon-folder", _get("/icons/folder.gif")),
    ("get-icon-back-range", _get("/icons/back.gif", "Range: bytes=0-5")),
    (
        "get-icon-text-ims",
        _get("/icons/text.gif", "If-Modified-Since: Mon, 01 Jan 2035 00:00:00 GMT"),
    ),
    ("head-icon-unknown", _get("/icons/unknown.gif", method="HEAD")),
    ("get-icon-compressed-gzip", _get("/icons/compressed.gif", "Accept-Encoding: gzip")),
    # pipelining
    (
        "pipelined-5",
        _get("/")
        + _get("/nope")
        + _get("/", method="OPTIONS")
        + _get("/index.html")
        + _get("/", "Connection: close"),
    ),
    (
        "pipelined-post-then-get",
        _get("/", "Content-Length: 3", method="POST") + b"abc" + _get("/nope"),
    ),
    (
        "pipelined-range-then-304",
        _get("/", "Range: bytes=0-3") + _get("/", f"If-Modified-Since: {LAST_MODIFIED}"),
    ),
    ("pipelined-close-then-more", _get("/", "Connection: close") + _get("/nope")),
]

_DATE = re.compile(rb"\r\nDate: [^\r\n]*\r\n")
# Multipart boundaries: nginx counts them per worker (the count depends on what the server
# served before), httpd draws a random unpadded hex number per child process (so even the
# multipart Content-Length varies with it): the only bytes of a multipart 206 that may differ.
_BOUNDARY = re.compile(rb"(boundary=|\r\n--)([0-9a-f]{6,20})")
_MULTIPART_LENGTH = re.compile(
    rb"\r\nContent-Length: \d+(\r\n(?:[^\r\n]+\r\n)*?Content-Type: multipart)"
)
_MULTIPART_LENGTH_AFTER = re.compile(
    rb"(Content-Type: multipart[^\r\n]*\r\n(?:[^\r\n]+\r\n)*?)Content-Length: \d+\r\n"
)
_ALLOW = re.compile(rb"\r\nAllow: ([^\r\n]*)\r\n")


def _sorted_allow(match: re.Match[bytes]) -> bytes:
    return b"\r\nAllow: " + b",".join(sorted(match.group(1).split(b","))) + b"\r\n"


def normalize(response: bytes) -> bytes:
    """Blank out Date values and multipart boundaries; sort Apache's Allow list (its order is
    random per process)."""
    response = _BOUNDARY.sub(rb"\1B", _DATE.sub(b"\r\nDate: X\r\n", response))
    if b"multipart/" in response:
        response = _MULTIPART_LENGTH.sub(rb"\r\nContent-Length: N\1", response)
        response = _MULTIPART_LENGTH_AFTER.sub(rb"\1Content-Length: N\r\n", response)
    return _ALLOW.sub(_sorted_allow, response)
