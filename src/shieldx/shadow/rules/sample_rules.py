"""A realistic 50-rule WAF-style rule set in CEL, for tests, demos and the benchmark.

Networks are documentation ranges (RFC 5737) and ASNs documentation numbers (RFC 5398), so
the sample never targets real parties. Patterns run on `urlDecode(query).lowerAscii()`,
which the compiler shares between rules and so computes once per request.
"""

from __future__ import annotations

from typing import Final

from shieldx.shadow.rules.domain import Action, ErrorPolicy, Rule, RuleSet

_Q: Final = "urlDecode(query).lowerAscii()"
_B, _A, _L, _C = Action.BLOCK, Action.ALLOW, Action.LOG, Action.CHALLENGE

_RULES: Final[tuple[tuple[str, int, Action, str, str], ...]] = (
    # Allow lists
    ("allow-health-probes", 1000, _A, "kube probes from the cluster network", 'ip.inCidr("10.0.0.0/8") && path == "/healthz"'),
    ("allow-partner-api", 1000, _A, "partner network on the API", 'ip.inCidr(["192.0.2.0/24"]) && path.startsWith("/api/")'),
    ("allow-static-assets", 950, _A, "plain static files", 'method == "GET" && path.startsWith("/static/") && !urlDecode(path).contains("..") && query == ""'),
    # Reputation and protocol
    ("block-bad-networks", 900, _B, "known abusive networks", 'ip.inCidr(["198.51.100.0/24", "203.0.113.0/24"])'),
    ("block-bad-asns", 900, _B, "bulletproof hosting ASNs", "asn in [64496, 64497, 64498, 64499, 64500, 64511]"),
    ("block-embargoed-countries", 900, _B, "geo embargo", 'country in ["KP", "IR"]'),
    ("block-methods", 900, _B, "debugging methods", 'method in ["TRACE", "TRACK", "CONNECT", "DEBUG"]'),
    # Scanners
    ("block-scanner-ua", 800, _B, "scanner user agents", r'user_agent.matches(r"(?i)(sqlmap|nikto|nmap|masscan|zgrab|nuclei|gobuster|dirbuster|wpscan|acunetix|netsparker|havij|w3af)")'),
    ("challenge-empty-ua", 800, _C, "no user agent outside the API", 'user_agent == "" && !path.startsWith("/api/")'),
    ("log-scripted-clients", 800, _L, "scripted HTTP clients", 'user_agent.startsWith("python-requests") || user_agent.startsWith("curl/") || user_agent.startsWith("Go-http-client")'),
    ("block-shellshock", 800, _B, "shellshock function definitions", 'user_agent.contains("() {") || headers.exists(h, headers[h].startsWith("() {"))'),
    # Sensitive paths
    ("block-dotfiles", 700, _B, "dotfiles and VCS metadata", r'path.matches(r"/\.(env|git|svn|hg|aws|ssh|htpasswd|htaccess|DS_Store)")'),
    ("block-wordpress-probes", 700, _B, "WordPress probes", 'path.startsWith("/wp-") || path.contains("/wp-admin") || path.endsWith("xmlrpc.php")'),
    ("block-php-probes", 700, _B, "PHP probes (no PHP here)", 'path.endsWith(".php") || path.lowerAscii().contains("phpmyadmin")'),
    ("block-backup-files", 700, _B, "backup and dump files", r'path.matches(r"(?i)\.(bak|old|orig|sql|swp|tar|tgz|zip|7z|rar)$")'),
    ("block-status-endpoints", 700, _B, "server status and debug endpoints", 'path in ["/server-status", "/server-info", "/actuator/env", "/actuator/heapdump", "/console", "/debug/pprof"]'),
    ("challenge-admin-outside-corp", 700, _C, "admin area from outside", 'path.startsWith("/admin") && !ip.inCidr(["10.0.0.0/8", "172.16.0.0/12"])'),
    ("log-login-posts", 700, _L, "login attempts", 'method == "POST" && path == "/login"'),
    # SQL injection
    ("sqli-union-select", 600, _B, "UNION SELECT", rf'{_Q}.matches(r"union(\s|/\*.*?\*/|\+)+(all(\s|/\*.*?\*/)+)?select")'),
    ("sqli-quoted-tautology", 600, _B, "quoted tautologies", rf"""{_Q}.matches(r"'\s*(or|and)\s*'?[0-9a-z]*'?\s*=\s*'?[0-9a-z]*")"""),
    ("sqli-numeric-tautology", 600, _B, "numeric tautologies", rf'{_Q}.matches(r"\b(or|and)\s+[0-9]+\s*=\s*[0-9]+")'),
    ("sqli-time-based", 600, _B, "time-based blind SQLi", rf'{_Q}.matches(r"(sleep|benchmark|pg_sleep)\s*\(|waitfor\s+delay")'),
    ("sqli-comment-terminator", 600, _B, "quote then comment", rf"""{_Q}.matches(r"'\s*(--|#|/\*)")"""),
    ("sqli-stacked-queries", 600, _B, "stacked queries", rf'{_Q}.matches(r";\s*(drop|delete|insert|update|create|alter|exec)\s")'),
    ("sqli-schema-probing", 600, _B, "schema and version probing", f'{_Q}.contains("information_schema") || {_Q}.contains("@@version")'),
    ("sqli-in-cookie", 600, _B, "SQLi in cookies", r"""'cookie' in headers && urlDecode(headers.cookie).lowerAscii().matches(r"'\s*(or|and|union)\s")"""),
    ("log-sql-keywords", 600, _L, "SQL keywords anywhere", rf'{_Q}.matches(r"\b(select|insert|delete|drop|union)\b")'),
    # Cross-site scripting
    ("xss-script-tag", 600, _B, "script tags", f'{_Q}.contains("<script")'),
    ("xss-event-handler", 600, _B, "inline event handlers", rf'{_Q}.matches(r"<[a-z]+[^>]*on[a-z]+\s*=")'),
    ("xss-javascript-uri", 600, _B, "javascript: URIs", rf'{_Q}.matches(r"javascript\s*:")'),
    ("xss-active-elements", 600, _B, "active HTML elements", rf'{_Q}.matches(r"<(iframe|object|embed|svg|body)\b")'),
    ("xss-in-referer", 600, _B, "XSS in the referer", "'referer' in headers && urlDecode(headers.referer).lowerAscii().contains(\"<script\")"),
    ("xss-dom-access", 600, _B, "DOM access", rf'{_Q}.matches(r"document\.(cookie|location|domain)|window\.location")'),
    # Path traversal
    ("traversal-in-path", 600, _B, "../ in the path", r'urlDecode(urlDecode(path)).contains("../") || urlDecode(urlDecode(path)).contains("..\\")'),
    ("traversal-in-query", 600, _B, "../ in the query", rf'{_Q}.matches(r"\.\.(/|\\)")'),
    ("traversal-sensitive-files", 600, _B, "system files", rf'{_Q}.matches(r"(/etc/(passwd|shadow|hosts)|win\.ini|boot\.ini|/proc/self/)")'),
    ("traversal-encoded-dots", 600, _B, "encoded dots", 'query.lowerAscii().contains("%2e%2e") || path.lowerAscii().contains("%2e%2e") || path.contains("%252f")'),
    ("traversal-nested-dots", 600, _B, "....// filter evasion", f'{_Q}.contains("....//")'),
    # Command injection
    ("cmdi-shell-metachar", 600, _B, "shell metacharacter then command", rf'{_Q}.matches(r"(;|\||&&|`|\$\()\s*(cat|ls|id|whoami|uname|wget|curl|nc|bash|sh|ping|rm|chmod)\b")'),
    ("cmdi-reverse-shell", 600, _B, "reverse shells", rf'{_Q}.matches(r"(/bin/(ba)?sh|nc\s+-e|/dev/tcp/|mkfifo)")'),
    ("cmdi-download-exec", 600, _B, "download and run", rf'{_Q}.matches(r"(wget|curl)\s+https?://")'),
    # Protocol anomalies and sizes
    ("block-missing-host", 500, _B, "no Host header", '!("host" in headers)'),
    ("block-huge-body", 500, _B, "bodies over 10 MiB", "body_size > 10485760"),
    ("challenge-large-body", 500, _C, "bodies over 1 MiB outside uploads", 'body_size > 1048576 && !path.startsWith("/upload")'),
    ("log-body-on-get", 500, _L, "GET with a body", 'method == "GET" && body_size > 0'),
    ("block-long-query", 500, _B, "very long query strings", "size(query) > 4096"),
    ("challenge-long-forwarding-chain", 500, _C, "long X-Forwarded-For chains", '"x-forwarded-for" in headers && size(headers["x-forwarded-for"]) > 200'),
    ("block-null-bytes", 500, _B, "encoded NUL bytes", 'query.contains("%00") || path.contains("%00")'),
    ("log-tenant-admin-api", 400, _L, "tenant admin API use", 'tenant != "" && path.startsWith("/api/v1/admin")'),
    ("challenge-foreign-login", 400, _C, "logins from unusual countries", 'path == "/login" && method == "POST" && !(country in ["US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "JP", "BR", "IN", "AU"])'),
)  # fmt: skip


def sample_rules() -> tuple[Rule, ...]:
    """The 50 sample rules, in declaration order."""
    return tuple(
        Rule(rid, expr, action, priority, desc) for rid, priority, action, desc, expr in _RULES
    )


def sample_ruleset(version: int = 1, on_error: ErrorPolicy = ErrorPolicy.FAIL_OPEN) -> RuleSet:
    """The sample rules compiled as the rule set "sample-waf"."""
    return RuleSet.compile("sample-waf", version, sample_rules(), on_error)
