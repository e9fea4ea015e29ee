"""Extreme values in every field of every route of all four services, over real loopback HTTP.

The four services run as `shieldx up` runs them: one shared platform context (one SQLite
database), one event loop, one listener each, every background task and the credits commit
process started. The test walks each service's own OpenAPI document, so a new route or field
is covered without touching this file: for each operation, for each field of its JSON body
(recursively, each branch of a oneOf on its own) and each query and path parameter, it sends
one request per extreme value with that one field set to the value and every other field set
to a valid value (from the schema, or a seeded object's id). JSON bodies are written by hand,
so `1e309`, `Infinity` and `NaN` arrive as the raw tokens an attacker sends.

Asserted for every request: no 5xx, and a refused request (4xx) changed no table (a probe the
tenant's key may not send is sent again with an unscoped admin key). Asserted at the end:
after one round of each service's periodic work, every background task of the loop is still
running, the commit process is the one started, nothing was logged at error level or above by
background work, and a normal write to each service still succeeds with /ready at 200.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from prometheus_client import CollectorRegistry

from shieldx.platform import migrations
from shieldx.platform.app import Component, create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LivePlatform
from shieldx.testing.state import changed_tables, fingerprint

# Raw JSON number tokens (some are not JSON at all, yet parsers meet them): unquoted in
# bodies, as text in query and path parameters.
NUMBERS = [
    "0",
    "-1",
    str(2**31),
    str(2**53),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    "1e308",
    "1e309",
    "-1e309",
    "Infinity",
    "-Infinity",
    "NaN",
]
# Text: unicode digits (str.isdigit() accepts them, int() refuses "²" and reads "٣" as 3),
# empty, huge, NUL, a duration no clock can hold.
TEXT = ["", "\u0663", "\u00b2", "x" * 10_000, "a\x00b", "99999999999d"]
# Opaque tokens (history cursors) that decode to a number no column can hold.
TOKENS = [base64.urlsafe_b64encode(b"p" + b"9" * 40).decode()]
PARAM_VALUES = [*NUMBERS, *TEXT, *TOKENS]
# In a body each number also comes quoted, as lax parsers turn "18446744073709551616" into an
# int; a few of them are enough for that.
BODY_TOKENS = [
    *NUMBERS,
    *(json.dumps(text, ensure_ascii=False) for text in TEXT),
    *(json.dumps(number) for number in ("-1", str(2**64), "1e309", "NaN")),
]
# Tables written on their own clock after an earlier request (alert deliveries, projection
# catch-up, the tallies of accepted traffic): a change there proves nothing about the request
# that was just refused.
BACKGROUND_TABLES = frozenset(
    {
        "credit_alerts",
        "projection_tracking",
        "credit_history",
        "credit_usage",
        "ab_test_results",
        "ab_test_variants",
        # A deployment stage's counts of earlier accepted traffic, flushed when a request
        # ends an A/B test (the flush runs before the refusal is known).
        "deployment_stages",
    }
)
# Background work slowed to a crawl so that a change in the database during a request can
# only come from that request.
SETTINGS: dict[str, Any] = {
    "security": {"rate_limit": {"enabled": False}},
    "credits": {"projection_interval": "1h", "sweep_interval": "1h"},
    "shadow": {"flush_interval": "1h", "refresh_interval": "1h"},
    "deployment": {"health_check_interval": "1h"},
    "camouflage": {
        "recording": {"flush_interval": "1h"},
        "decoys": [{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}],
    },
}
TENANT = "fuzz"
# Request records have no schema in the shadow document (any JSON object is a record):
# these stand in for it so that their fields are walked too.
RECORD = {
    "type": "object",
    "properties": {
        "method": {"type": "string"},
        "path": {"type": "string"},
        "query": {"type": "string"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "ip": {"type": "string"},
        "country": {"type": "string"},
        "asn": {"type": "integer"},
        "user_agent": {"type": "string"},
        "body_size": {"type": "integer"},
        "label": {"type": "string"},
    },
    "required": ["method", "path", "ip"],
}
FREE_FORM_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/shadow/decide"): RECORD,
    ("POST", "/shadow/rulesets/{ref}/check"): RECORD,
    ("POST", "/shadow/traffic"): {"type": "array", "items": RECORD},
}
Path_ = tuple[str | int, ...]


@dataclass
class Finding:
    """A request that broke a rule: what was sent and what came back."""

    service: str
    route: str
    where: str
    value: str
    problem: str

    def __str__(self) -> str:
        value = self.value if len(self.value) <= 24 else f"{self.value[:12]}...({len(self.value)})"
        return f"{self.service} {self.route} {self.where}={value!r}: {self.problem}"


@dataclass
class Probe:
    """One request: a method, a URL path and query, an optional raw JSON body."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


# ---------------------------------------------------------------- valid values from a schema
class Valid:
    """Valid values for a service's schemas: seeded ids by field name, else from the schema."""

    def __init__(self, doc: dict[str, Any], seeds: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
        self.seeds = seeds

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """SCHEMA with its $ref followed."""
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def alternatives(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The non-null branches of an anyOf/oneOf, or SCHEMA itself."""
        schema = self.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                branches = [self.resolve(s) for s in schema[key]]
                return [s for s in branches if s.get("type") != "null"]
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.alternatives(schema["allOf"][0])
        return [schema]

    def value(self, schema: dict[str, Any], name: str = "") -> Any:
        """A valid value of SCHEMA for a field called NAME."""
        schema = self.alternatives(schema)[0]
        if name in self.seeds and self._fits(schema, self.seeds[name]):
            return self.seeds[name]
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        if schema.get("default") is not None:
            return schema["default"]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self.object_value(schema)
        if kind == "array":
            count = max(1, schema.get("minItems", 1))
            return [self.value(schema.get("items", {}), name) for _ in range(count)]
        if kind in ("integer", "number"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
            high = schema.get("maximum", schema.get("exclusiveMaximum", 10**6))
            number = min(max(1, int(low) + 1), int(high) - 1 if high > 1 else high)
            return number if kind == "integer" else float(number)
        if kind == "boolean":
            return False
        return self.string(schema)

    def object_value(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The object with only its required properties, each valid."""
        props = schema.get("properties", {})
        return {p: self.value(props[p], p) for p in schema.get("required", []) if p in props}

    def string(self, schema: dict[str, Any]) -> str:
        """A string SCHEMA accepts (format first, then pattern and length)."""
        fmt = schema.get("format")
        if fmt == "date-time":
            return (datetime.now(UTC) + timedelta(days=30)).isoformat()
        if fmt == "duration":
            return "PT1M"
        low: int = schema.get("minLength", 1)
        high: int = schema.get("maxLength", 64)
        pattern = schema.get("pattern")
        for candidate in ("fuzz-1", "abcdef0123456789", "/", "GET", "a", "1234"):
            if low <= len(candidate) <= high and (pattern is None or re.search(pattern, candidate)):
                return candidate
        return "a" * max(1, low)

    def _fits(self, schema: dict[str, Any], value: Any) -> bool:
        kind = schema.get("type")
        if kind == "string":
            return isinstance(value, str)
        if kind == "array":
            return isinstance(value, list)
        if kind == "object":
            return isinstance(value, dict)
        return kind is None or (kind == "integer" and isinstance(value, int))


# ---------------------------------------------------------------- walking the fields
def fields(valid: Valid, schema: dict[str, Any], name: str = "") -> Iterator[tuple[Any, Path_]]:
    """(a valid value of SCHEMA, the path of one field inside it), for every field."""
    for branch in valid.alternatives(schema):
        kind = branch.get("type")
        if kind == "object" or "properties" in branch:
            base = valid.object_value(branch)
            props = branch.get("properties", {})
            for prop, sub in props.items():
                for inner, path in fields(valid, sub, prop):
                    yield {**base, prop: inner}, (prop, *path)
            extra = branch.get("additionalProperties")
            if extra is True:  # free-form (claims, metadata): any value under any name
                extra = {}
            if isinstance(extra, dict) and not props:
                yield {**base, "x": valid.value(extra, "x")}, ("x",)
        elif kind == "array":
            for inner, path in fields(valid, branch.get("items", {}), name):
                yield [inner], (0, *path)
        else:
            yield valid.value(branch, name), ()


SENTINEL = "\x01fuzz-sentinel\x01"


def raw_body(base: Any, path: Path_, token: str) -> bytes:
    """BASE as JSON with the field at PATH replaced by the raw JSON TOKEN."""

    def put(node: Any, rest: Path_) -> Any:
        if not rest:
            return SENTINEL
        head, tail = rest[0], rest[1:]
        if isinstance(head, int):
            copy = list(node)
            copy[head] = put(copy[head], tail)
            return copy
        return {**node, head: put(node.get(head), tail)}

    text = json.dumps(put(base, path), ensure_ascii=False, allow_nan=False)
    return text.replace(json.dumps(SENTINEL), token, 1).encode()


def _with(base: Any, extra: dict[str, Any], path: Path_) -> Any:
    """BASE with EXTRA's fields on top, but for the one field at PATH (being fuzzed)."""
    if not isinstance(base, dict):
        return base
    return {**base, **{k: v for k, v in extra.items() if k != path[0]}}


def request(
    method: str,
    template: str,
    params: list[dict[str, Any]],
    values: dict[str, str],
    body: bytes | None,
) -> Probe:
    """The request to METHOD TEMPLATE with the parameters VALUES and BODY."""
    path = template
    query = {}
    for p in params:
        if p["name"] not in values:
            continue
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", quote(values[p["name"]], safe=""))
        else:
            query[p["name"]] = values[p["name"]]
    return Probe(method.upper(), path, query, body)


def probes(doc: dict[str, Any], seeds: dict[str, Any]) -> Iterator[tuple[str, str, str, Probe]]:
    """(route, field, value, request) for every field of every operation and extreme value."""
    valid = Valid(doc, seeds)
    # Deletions and state changes last, so that earlier probes still find the seeded objects.
    order = {"get": 0, "put": 1, "patch": 1, "post": 1, "delete": 2}
    operations = sorted(
        ((m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()),
        key=lambda item: (order.get(item[0], 1), "{operation}" in item[1], item[1]),
    )
    for method, template, op in operations:
        route = f"{method.upper()} {template}"
        params = [
            valid.resolve(p) for p in op.get("parameters", []) if p["in"] in ("query", "path")
        ]
        base_params = {
            p["name"]: str(valid.value(p.get("schema", {}), p["name"]))
            for p in params
            if p["in"] == "path" or p.get("required")
        }
        body_schema = FREE_FORM_BODIES.get((method.upper(), template))
        content = op.get("requestBody", {}).get("content", {})
        if body_schema is None and "application/json" in content:
            body_schema = content["application/json"].get("schema", {})
        base_body: Any = None
        body_fields: list[tuple[Any, Path_]] = []
        if body_schema is not None:
            # Optional fields a valid request needs (which object to act on) come seeded.
            extra = seeds.get(route, {})
            base_body = valid.value(body_schema)
            body_fields = list(fields(valid, body_schema))
            if isinstance(base_body, dict):
                base_body = {**base_body, **extra}
                body_fields = [(_with(base, extra, path), path) for base, path in body_fields]

        default_body = None if base_body is None else json.dumps(base_body).encode()
        for p in params:
            values = {**base_params}
            for value in PARAM_VALUES:
                values[p["name"]] = value
                probe = request(method, template, params, values, default_body)
                yield route, f"{p['in']}:{p['name']}", value, probe
        for base, path in body_fields:
            where = "body:" + ".".join(str(part) for part in path)
            for token in BODY_TOKENS:
                probe = request(method, template, params, base_params, raw_body(base, path, token))
                yield route, where, token, probe


# ---------------------------------------------------------------- the platform
@dataclass
class Platform:
    """The running services, a client and key for each, and what the test seeded."""

    live: LivePlatform
    ctx: PlatformContext
    components: dict[str, Component]
    clients: dict[str, httpx.Client]
    seeds: dict[str, dict[str, Any]] = field(default_factory=dict)

    def send(self, service: str, probe: Probe, *, unscoped: bool = False) -> httpx.Response:
        """Send PROBE to SERVICE over its keep-alive connection (as the unscoped admin)."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        if probe.body is not None:
            headers["Content-Type"] = "application/json"
        client = self.clients[("unscoped:" if unscoped else "") + service]
        return client.request(
            probe.method, probe.path, params=probe.query, content=probe.body, headers=headers
        )

    def post(self, service: str, path: str, body: Any) -> dict[str, Any]:
        """POST BODY (valid) and return the answer, which must be a success."""
        response = self.send(service, Probe("POST", path, body=json.dumps(body).encode()))
        assert response.is_success, f"seeding {path}: {response.status_code} {response.text}"
        answer: dict[str, Any] = response.json()
        return answer


def start_platform(data_dir: Path) -> tuple[PlatformContext, dict[str, Component], LivePlatform]:
    """Every service on one loop, sharing one context, as `shieldx up` runs them."""
    ctx = build_context(settings_for_test(data_dir, **SETTINGS))
    migrations.upgrade(ctx.db)
    components: dict[str, Component] = {}

    def keeping(name: str) -> Callable[[PlatformContext, CollectorRegistry], Component]:
        build = SERVICES[name].factory()

        def factory(ctx: PlatformContext, registry: CollectorRegistry) -> Component:
            components[name] = build(ctx, registry)
            return components[name]

        return factory

    apps = {name: create_app(ctx, name, keeping(name)) for name in SERVICES}
    return ctx, components, LivePlatform(apps)


def seed(platform: Platform) -> None:
    """Create one object of each kind, so that ids in paths and bodies name real things."""
    credits: dict[str, Any] = {"account_id": "acct-1"}
    platform.post("credits", "/credits/accounts", {"account_id": "acct-1"})
    platform.post("credits", "/credits/purchase", {"account_id": "acct-1", "amount": 10**9})
    hold = platform.post(
        "credits", "/credits/reserve", {"account_id": "acct-1", "amount": 1, "ttl_seconds": 3600}
    )
    credits["reservation_id"] = hold["reservation_id"]
    # Cancel is probed first: commit gets its own hold.
    other = platform.post(
        "credits", "/credits/reserve", {"account_id": "acct-1", "amount": 1, "ttl_seconds": 3600}
    )
    credits["POST /credits/commit"] = {"reservation_id": other["reservation_id"]}
    platform.seeds["credits"] = credits

    rule = {"id": "r1", "expression": 'method == "GET"', "action": "log"}
    for name in ("base", "cand"):
        platform.post("shadow", "/shadow/rulesets", {"name": name, "rules": [rule]})
    test = platform.post(
        "shadow", "/shadow/evaluate", {"name": "t", "control": "base", "candidate": "cand"}
    )
    deployment = platform.post("shadow", "/shadow/deploy", {"ruleset": "cand"})
    platform.post("shadow", "/shadow/gateways", {"gateway_id": "gw-1"})
    flag = {"key": "f1", "variants": {"on": True, "off": False}, "default_variant": "off"}
    platform.post("shadow", "/shadow/flags", flag)
    platform.seeds["shadow"] = {
        "name": "fuzz",
        "ref": "base",
        "control": "base",
        "candidate": "cand",
        "ruleset": "cand",
        "test_id": test["id"],
        "deployment_id": deployment["id"],
        "POST /shadow/deploy": {"ruleset": "cand"},
        "gateway_id": "gw-1",
        "key": "f1",
        "default_variant": "off",
        "variants": flag["variants"],
        "variant": "on",
        "expression": 'method == "GET"',
        "action": "log",
        "operation": "pause",
        "method": "GET",
        "path": "/",
        "ip": "203.0.113.5",
    }

    session = platform.post(
        "camouflage", "/v1/camouflage/session", {"decoy": "web", "source_ip": "203.0.113.5"}
    )
    platform.seeds["camouflage"] = {
        "session_id": session["session_id"],
        "decoy": "web",
        "name": "nginx-1.22.1-debian",
        "source_ip": "203.0.113.5",
        "path": "/",
        "method": "GET",
    }

    token = platform.post("locator", "/issue", {"subject": "alice", "audience": "api"})
    platform.seeds["locator"] = {
        "subject": "alice",
        "audience": "api",
        "token": token["access_token"],
    }


def background_tasks(platform: Platform) -> dict[str, asyncio.Task[Any]]:
    """Every task of ours on the platform's loop now, by a name unique to each."""

    def source(task: asyncio.Task[Any]) -> str:
        code = getattr(task.get_coro(), "cr_code", None)
        return "" if code is None else str(code.co_filename)

    def ours() -> set[asyncio.Task[Any]]:
        # asyncio's own helpers (a wait on an event) come and go; so does this call's task.
        return {
            task
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task() and "asyncio" not in Path(source(task)).parts
        }

    tasks = platform.live.call(ours)
    return {f"{t.get_name()}:{getattr(t.get_coro(), '__qualname__', '?')}": t for t in tasks}


def commit_process_pid(platform: Platform) -> int | None:
    """The credits commit process's pid while it runs, else None."""
    committer = platform.components["credits"].extra["service"].writer.committer
    transport = getattr(committer, "_transport", None)
    if transport is None or not committer.running:
        return None
    pid = transport.get_pid()
    return pid if isinstance(pid, int) else None


class Changes:
    """Detects any commit to the database since the last look, cheaply (data_version)."""

    def __init__(self, platform: Platform) -> None:
        self.db = platform.ctx.db
        url = platform.ctx.settings.database_url.removeprefix("sqlite:///")
        self.conn = sqlite3.connect(url, check_same_thread=False)
        self.version = self._version()
        self.digest = fingerprint(self.db, BACKGROUND_TABLES)

    def _version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        """Close the connection it watches with."""
        self.conn.close()

    def since_last(self) -> list[str]:
        """Tables changed since the last call (commits by any other connection)."""
        version = self._version()
        if version == self.version:
            return []
        self.version = version
        digest = fingerprint(self.db, BACKGROUND_TABLES)
        changed = changed_tables(self.digest, digest)
        self.digest = digest
        return changed


def test_extreme_values_in_every_field_are_refused_cleanly(tmp_path: Path) -> None:
    """No 5xx, no change after a 4xx, no background task lost, writes still work after."""
    ctx, components, live = start_platform(tmp_path / "data")
    findings: list[Finding] = []
    sent = 0
    clients: dict[str, httpx.Client] = {}
    try:
        with live, structlog.testing.capture_logs() as logs, ExitStack() as stack:
            # A tenant's admin key, and an unscoped one for what only that may do (verify the
            # whole chain); camouflage takes unscoped keys only.
            _, unscoped = ctx.api_keys.create(role=Role.ADMIN, tenant=None, name="fuzzer")
            _, scoped = ctx.api_keys.create(role=Role.ADMIN, tenant=TENANT, name="fuzzer")
            for name, url in live.urls.items():
                keys = {name: unscoped if name == "camouflage" else scoped}
                keys["unscoped:" + name] = unscoped
                for client_name, key in keys.items():
                    auth = {"Authorization": f"Bearer {key}"}
                    clients[client_name] = httpx.Client(base_url=url, headers=auth, timeout=30)
            platform = Platform(live, ctx, components, clients)
            tasks = background_tasks(platform)
            pid = commit_process_pid(platform)
            seed(platform)
            changes = Changes(platform)
            stack.callback(changes.close)
            for name in live.urls:
                doc = clients[name].get("/openapi.json").json()
                for route, where, value, probe in probes(doc, platform.seeds[name]):
                    settle(platform, name, changes)
                    response = platform.send(name, probe)
                    if response.status_code == 403:
                        # Refused to the tenant's key: what an unscoped admin key meets.
                        sent += 1
                        findings.extend(check(name, route, where, value, response, changes))
                        response = platform.send(name, probe, unscoped=True)
                    sent += 1
                    findings.extend(check(name, route, where, value, response, changes))
            findings.extend(still_healthy(platform, tasks, pid))
        # Background work reports what it could not do at error level (a flush, a refresh, a
        # controller tick); the access log's 5xx lines are findings already.
        findings.extend(
            Finding("platform", "log", str(entry.get("event")), "-", repr(entry)[:300])
            for entry in logs
            if entry.get("log_level") in ("error", "critical", "exception")
            and entry.get("event") not in ("http.request", "http.unhandled_error")
        )
    finally:
        for client in clients.values():
            client.close()
        ctx.close()
    assert sent > 5000, f"only {sent} requests were sent"
    report = "\n".join(str(f) for f in findings)
    assert not findings, f"{len(findings)} findings:\n{report}"


def settle(platform: Platform, service: str, changes: Changes) -> None:
    """Write what earlier probes left pending before the next probe of SERVICE.

    Camouflage reads flush the recorder first (read-your-writes), so a refused read could
    otherwise write the events of the requests before it: their writes, not its own.
    """
    if service == "camouflage":
        platform.live.run(platform.components["camouflage"].extra["service"].flush)
        changes.since_last()


def check(
    service: str, route: str, where: str, value: str, response: httpx.Response, changes: Changes
) -> Iterator[Finding]:
    """A finding if RESPONSE is a 5xx, or a 4xx after which some table changed."""
    status = response.status_code
    changed = changes.since_last()
    if status >= 500:
        yield Finding(service, route, where, value, f"{status} {response.text[:200]}")
    elif 400 <= status < 500 and changed:
        yield Finding(service, route, where, value, f"{status} yet {', '.join(changed)} changed")


def still_healthy(
    platform: Platform, tasks: dict[str, asyncio.Task[Any]], pid: int | None
) -> Iterator[Finding]:
    """Findings if a background task ended, the commit process changed or a write fails."""
    for name, task in tasks.items():
        if task.done():
            error = None if task.cancelled() else task.exception()
            yield Finding("platform", "background task", name, "-", f"ended: {error!r}")
    # One round of each service's periodic work now (their clocks are slowed to an hour), on
    # whatever the fuzzing left accepted: holds and grants due, deployments to judge, traffic
    # to flush, routing to reload.
    extra = {name: component.extra for name, component in platform.components.items()}
    shadow = extra["shadow"]["service"]
    rounds: dict[str, Callable[[], Awaitable[Any]]] = {
        "credits sweep": extra["credits"]["sweeper"].sweep,
        "shadow controller tick": shadow.controller.tick,
        "shadow routing refresh": shadow.refresh_routing,
        "camouflage flush": extra["camouflage"]["service"].flush,
    }
    for name, work in rounds.items():
        try:
            platform.live.run(work)
        except Exception as exc:
            yield Finding("platform", "background round", name, "-", f"failed: {exc!r}")
    now = commit_process_pid(platform)
    if now != pid:
        yield Finding("credits", "commit process", "pid", str(pid), f"now {now}")
    writes = [
        ("credits", "/credits/purchase", {"account_id": "acct-1", "amount": 1}),
        ("shadow", "/shadow/gateways", {"gateway_id": "gw-after"}),
        ("camouflage", "/v1/camouflage/session", {"decoy": "web", "source_ip": "203.0.113.9"}),
        ("locator", "/issue", {"subject": "bob", "audience": "api"}),
    ]
    for service, path, body in writes:
        response = platform.send(service, Probe("POST", path, body=json.dumps(body).encode()))
        if not response.is_success:
            problem = f"a normal write answered {response.status_code} {response.text[:200]}"
            yield Finding(service, f"POST {path}", "after fuzzing", "", problem)
        ready = platform.clients[service].get("/ready")
        if ready.status_code != 200:
            yield Finding(service, "GET /ready", "after fuzzing", "", str(ready.status_code))
