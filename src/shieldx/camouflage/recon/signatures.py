"""The classification tables: scanner User-Agents, scanner probes and attack patterns (data only).

Each table is a tuple of rows tried in order; the classifier (classify.py) compiles them once.
Patterns match lower-cased, percent-decoded text. Sources: the probes the tools themselves send
(nmap's nmap-service-probes and NSE http library, nikto's db_tests, sqlmap's payloads, nuclei's
templates, gobuster/dirb wordlists) and the exploit paths seen in honeypot logs.
"""

from __future__ import annotations

from typing import Final

# Scanner families (the `scanner` field) and how strong each kind of evidence is.
NMAP: Final = "nmap"
MASSCAN: Final = "masscan"
ZGRAB: Final = "zgrab"
NIKTO: Final = "nikto"
NUCLEI: Final = "nuclei"
SQLMAP: Final = "sqlmap"
DIRBUSTER: Final = "dirbuster"
HTTP_CLIENT: Final = "http_client"
BROWSER: Final = "browser"
UNKNOWN: Final = "unknown"
SCANNER_FAMILIES: Final = (
    NMAP, MASSCAN, ZGRAB, NIKTO, NUCLEI, SQLMAP, DIRBUSTER, HTTP_CLIENT, BROWSER, UNKNOWN,
)  # fmt: skip

#: A scanner naming itself in its User-Agent.
STRENGTH_TOOL_UA: Final = 3
#: A request only one tool sends (a probe signature), whatever its User-Agent says.
STRENGTH_PROBE: Final = 2
#: Behaviour over a session (many distinct missing paths in a row: content discovery).
STRENGTH_BEHAVIOUR: Final = 2
#: A generic client or a browser User-Agent.
STRENGTH_GENERIC_UA: Final = 1

# (pattern on the lower-cased User-Agent, family, tool, strength)
USER_AGENTS: Final[tuple[tuple[str, str, str, int], ...]] = (
    (r"nmap scripting engine|\bnmap\b", NMAP, "nmap", STRENGTH_TOOL_UA),
    (r"masscan", MASSCAN, "masscan", STRENGTH_TOOL_UA),
    (r"zgrab", ZGRAB, "zgrab", STRENGTH_TOOL_UA),
    (r"censysinspect", ZGRAB, "censys", STRENGTH_TOOL_UA),
    (r"nikto", NIKTO, "nikto", STRENGTH_TOOL_UA),
    (r"nuclei|projectdiscovery", NUCLEI, "nuclei", STRENGTH_TOOL_UA),
    (r"sqlmap", SQLMAP, "sqlmap", STRENGTH_TOOL_UA),
    (r"gobuster", DIRBUSTER, "gobuster", STRENGTH_TOOL_UA),
    (r"dirbuster", DIRBUSTER, "dirbuster", STRENGTH_TOOL_UA),
    (r"fuzz faster u fool|\bffuf\b", DIRBUSTER, "ffuf", STRENGTH_TOOL_UA),
    (r"feroxbuster", DIRBUSTER, "feroxbuster", STRENGTH_TOOL_UA),
    (r"wfuzz", DIRBUSTER, "wfuzz", STRENGTH_TOOL_UA),
    (r"^curl/", HTTP_CLIENT, "curl", STRENGTH_GENERIC_UA),
    (r"^wget/", HTTP_CLIENT, "wget", STRENGTH_GENERIC_UA),
    (r"python-requests/", HTTP_CLIENT, "python-requests", STRENGTH_GENERIC_UA),
    (r"python-urllib|python-httpx|aiohttp/", HTTP_CLIENT, "python", STRENGTH_GENERIC_UA),
    (r"go-http-client/", HTTP_CLIENT, "go-http-client", STRENGTH_GENERIC_UA),
    (r"okhttp/|^java/|apache-httpclient/", HTTP_CLIENT, "java", STRENGTH_GENERIC_UA),
    (r"libwww-perl|lwp::simple", HTTP_CLIENT, "perl", STRENGTH_GENERIC_UA),
    (r"powershell", HTTP_CLIENT, "powershell", STRENGTH_GENERIC_UA),
    (r"mozilla/5\.0 .*\bedg/", BROWSER, "edge", STRENGTH_GENERIC_UA),
    (r"mozilla/5\.0 .*\bopr/", BROWSER, "opera", STRENGTH_GENERIC_UA),
    (r"mozilla/5\.0 .*\bfirefox/", BROWSER, "firefox", STRENGTH_GENERIC_UA),
    (r"mozilla/5\.0 .*\bchrome/", BROWSER, "chrome", STRENGTH_GENERIC_UA),
    (r"mozilla/5\.0 .*\bversion/[\d.]+ .*safari/", BROWSER, "safari", STRENGTH_GENERIC_UA),
    (r"mozilla/4\.0 \(compatible; msie", BROWSER, "msie", STRENGTH_GENERIC_UA),
)

# Requests only one tool makes: (pattern on "METHOD path?query VERSION", family, tool).
PROBES: Final[tuple[tuple[str, str, str], ...]] = (
    # nmap's GetRequest probe is GET /nice%20ports%2C/Tri%6Eity.txt%2ebak; its NSE http
    # library asks for /nmaplowercheck<time> and /NmapUpperCheck<time> to learn the 404 page;
    # the RTSPRequest probe is OPTIONS / RTSP/1.0.
    (r"/nice ports,/trinity\.txt\.bak", NMAP, "nmap"),
    (r"/nmap(lower|upper)check\d+", NMAP, "nmap"),
    (r"^options / rtsp/1\.0$", NMAP, "nmap"),
    (r"/evox/about|/hnap1(/|$| )", NMAP, "nmap"),
    # nikto: its PHP easter-egg credits probes and its own test file names.
    (r"\?=php[a-z0-9]{8}-[a-z0-9]{4}-", NIKTO, "nikto"),
    (r"/nikto[-_]?test|/nikto\.(ini|conf)\b", NIKTO, "nikto"),
    # nuclei: unresolved template variables and interactsh callback domains.
    (r"\{\{(baseurl|hostname|rootURL|interactsh-url)\}\}", NUCLEI, "nuclei"),
    (r"\.(oast\.(fun|pro|live|site|online|me)|interact\.sh)\b", NUCLEI, "nuclei"),
    # sqlmap marks its UNION and error-based payloads with CONCAT(0x71...,...,0x71...).
    (r"concat\(0x71[0-9a-f]{6}|\(select \(case when \(\d{4}=\d{4}\)", SQLMAP, "sqlmap"),
    (r"and \d{4}=\d{4}(--| and| #)|and \(select \d{4} from \(select\(sleep", SQLMAP, "sqlmap"),
)

# Attack types, most specific first; the first one that matches is a request's primary type.
EXPLOIT: Final = "exploit"
COMMAND_INJECTION: Final = "command_injection"
SQL_INJECTION: Final = "sql_injection"
PATH_TRAVERSAL: Final = "path_traversal"
XSS_PROBE: Final = "xss_probe"
SECRETS_PROBE: Final = "secrets_probe"
ADMIN_PROBE: Final = "admin_probe"
NONE: Final = "none"
ATTACK_TYPES: Final = (
    EXPLOIT, COMMAND_INJECTION, SQL_INJECTION, PATH_TRAVERSAL, XSS_PROBE, SECRETS_PROBE,
    ADMIN_PROBE,
)  # fmt: skip

# (attack type, pattern on the request target: decoded path and query, lower-cased)
TARGET_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    (
        EXPLOIT,
        r"/vendor/phpunit/phpunit/src/util/php/eval-stdin\.php"
        r"|/boaform/admin/formlogin|/gponform/diag_form|/shell\?cd\+|/shell\?cd "
        r"|/_ignition/execute-solution|/solr/admin/(info|cores)|/actuator/gateway/routes"
        r"|/owa/auth/x\.js|/autodiscover/autodiscover\.json\?@|/mgmt/tm/util/bash"
        r"|/dana-na/|/remote/fgt_lang|/wls-wsat/|/_async/asyncresponseservice"
        r"|/invoker/jmxinvokerservlet|/setup\.cgi\?next_file=|/index\.php\?s=/?index/\\think"
        r"|/api/jsonws/invoke|/cgi-bin/luci/;stok=|/tmui/login\.jsp/\.\.;"
        r"|/developmentserver/metadatauploader|/\+cscot\+/|/cgi-bin/(php|php5|php-cgi)(\?|$)"
        r"|allow_url_include|auto_prepend_file=php://input|/cgi-bin/\.\./|/cgi-bin/\.%2e/"
        r"|\$\{jndi:|%\{\(#|/wp-content/plugins/[\w-]+/.*\.php\?.*(cmd|exec)="
        r"|/hudson/script|/script(text)?\?script=|/druid/indexer|/struts2?-showcase"
        r"|/cgi-bin/(mainfunction|kerbynet|supervisor)\.cgi|/level/15/exec/",
    ),
    (
        COMMAND_INJECTION,
        r"[;|`]\s*(cat|id|uname|wget|curl|ls|whoami|sh|bash|nc|ping|busybox|chmod|echo|nslookup)\b"
        r"|\$\((id|whoami|uname|cat|curl|wget|sleep)\b|&&\s*(id|whoami|cat|uname|wget|curl)\b"
        r"|/bin/(ba)?sh\b|\bcmd\.exe\b|\bpowershell\b|\$\{ifs\}|\(\)\s*\{\s*:;\s*\};",
    ),
    (
        SQL_INJECTION,
        r"\bunion(\s|/\*.*?\*/|\+)+(all(\s|\+)+)?select\b|'\s*(or|and)\s+'?\w+'?\s*=\s*'?\w+"
        r"|\b(and|or)\s+\d+\s*[=<>]\s*\d+\b|\bsleep\(\s*\d+\s*\)|\bbenchmark\(|\bwaitfor\s+delay\b"
        r"|information_schema|'\s*(--|#)|\bextractvalue\(|\bupdatexml\(|\bpg_sleep\("
        r"|;\s*drop\s+table\b|\bconcat\(0x|\bselect\b.{1,200}\bfrom\b",
    ),
    (
        PATH_TRAVERSAL,
        r"\.\./|\.\.\\|\.\.;/|%2e%2e|%c0%ae|%252e|/etc/(passwd|shadow|hosts)\b|\bboot\.ini\b"
        r"|\bwin\.ini\b|/proc/self/(environ|cmdline)|c:\\windows\\|file:///",
    ),
    (
        XSS_PROBE,
        r"<\s*script\b|javascript:|\bon(error|load|mouseover|focus)\s*=|<\s*svg\b|<\s*iframe\b"
        r"|<\s*img\b[^>]*\bsrc\b|\balert\s*\(|\bprompt\s*\(|document\.(cookie|domain)",
    ),
    (
        SECRETS_PROBE,
        r"/\.env\b|/\.git/|/\.svn/|/\.hg/|/\.aws/|/\.ssh/|/\.htpasswd|/\.htaccess|/\.ds_store"
        r"|/\.npmrc|/\.docker/config\.json|/\.vscode/sftp\.json|/sftp-config\.json"
        r"|/config\.(php|json|ya?ml|js|inc)\b|/wp-config\.php|/web\.config\b|/appsettings\.json"
        r"|/credentials(\.json|\.xml)?$|/id_(rsa|dsa|ecdsa|ed25519)\b|/docker-compose\.ya?ml"
        r"|/(backup|dump|db|database)\.(sql|zip|tar|tar\.gz|tgz|rar)\b|\.(bak|old|orig|swp|save)$"
        r"|/server-status|/phpinfo\.php|/info\.php|/actuator/(env|heapdump|configprops)"
        r"|/database\.yml|/settings\.py|/\.bash_history|/\.kube/config|/secrets?\.(json|ya?ml)",
    ),
    (
        ADMIN_PROBE,
        r"/(wp-admin|wp-login\.php|administrator|admin|admin\.php|admin/login|adminer\.php"
        r"|login|login\.php|login\.jsp|user/login|users/sign_in|signin|auth/login|phpmyadmin"
        r"|pma|myadmin|manager/html|host-manager|console|jmx-console|web-console|cpanel"
        r"|webadmin|controlpanel|admin-console|xmlrpc\.php|owa|ecp|remote/login|\+cscoe\+"
        r"|global-protect/login\.esp|dashboard|portal|setup\.php|install\.php)(/|\?|$|\.)",
    ),
)

# Header values that carry attacks whatever the path (log4shell, shellshock).
HEADER_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    (EXPLOIT, r"\$\{jndi:|\$\{\$\{|\$\{(lower|upper|env|sys):"),
    (COMMAND_INJECTION, r"\(\)\s*\{\s*:;\s*\};"),
)

# The session-level behaviour of content discovery (gobuster, dirbuster, dirb, ffuf).
DISCOVERY_MIN_PATHS: Final = 20
DISCOVERY_MIN_MISSING_SHARE: Final = 0.8
