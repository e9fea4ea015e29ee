"""Schemathesis against each service's OpenAPI document, over real loopback HTTP.

Every service runs for real (create_app on a migrated SQLite context, its background tasks
started, served by uvicorn in a thread) and schemathesis drives it in-process through its
engine: the examples, coverage and fuzzing phases, positive and negative data, every check
(not_a_server_error, response schema, content type, status codes, Allow headers, ignored auth,
...). Deterministic: a fixed seed, derandomized generation, no example database, one worker.
A request that is refused (4xx) must also leave the database exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import OperationConfig, OperationsConfig, SchemathesisConfig
from schemathesis.engine import Status, events
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from shieldx.platform import migrations
from shieldx.platform.app import create_app
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.db import Database
from shieldx.platform.roles import Role
from shieldx.services import SERVICES
from shieldx.testing.fixtures import settings_for_test
from shieldx.testing.live import LiveServer
from shieldx.testing.state import fingerprint

SEED = 20_261_127
MAX_EXAMPLES = 12
PHASES = ["examples", "coverage", "fuzzing"]
# A schema cannot say that a CEL expression compiles or that a rule set name exists: valid
# JSON refused by the domain is a 422 (with the reason), which positive data may receive.
POSITIVE_DATA_STATUSES = ["2XX", "3XX", "401", "403", "404", "409", "422", "429"]
# Background work that writes on its own clock is slowed to a crawl so that a change in the
# database during a request can only come from that request.
QUIET: dict[str, dict[str, Any]] = {
    "credits": {"projection_interval": "1h", "sweep_interval": "1h"},
    "shadow": {"flush_interval": "1h", "refresh_interval": "1h"},
    "camouflage": {"recording": {"flush_interval": "1h"}},
}
NO_RATE_LIMIT = {"security": {"rate_limit": {"enabled": False}}}


@dataclass(frozen=True)
class Target:
    """A service to fuzz: the admin key it is fuzzed with and its own settings."""

    service: str
    # Tenant-scoped where the service is multi-tenant (an unscoped key must name a tenant,
    # which no schema can express); camouflage takes unscoped keys only.
    tenant: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    # Tables the service also writes on its own clock, after an earlier request (alert
    # deliveries, projection catch-up): a change there proves nothing about the request.
    background: frozenset[str] = frozenset()


TARGETS = [
    Target(
        "credits",
        tenant="fuzz",
        settings={"credits": QUIET["credits"]},
        background=frozenset(
            {"credit_alerts", "projection_tracking", "credit_history", "credit_usage"}
        ),
    ),
    Target("shadow", tenant="fuzz", settings={"shadow": QUIET["shadow"]}),
    Target("locator", tenant="fuzz"),
    Target(
        "camouflage",
        tenant=None,
        settings={
            "camouflage": {
                **QUIET["camouflage"],
                "decoys": [{"name": "web", "template": "nginx-1.22.1-debian", "port": 0}],
            }
        },
    ),
]


@contextmanager
def rejected_requests_change_nothing(
    schema: Any, db: Database, violations: list[str], skip: frozenset[str]
) -> Iterator[None]:
    """Record every refused request (4xx) after which some table differs."""
    before: dict[str, str] = {}

    def snapshot(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        before.clear()
        before.update(fingerprint(db, skip))

    def compare(context: Any, case: Any, response: Any) -> None:
        if 400 <= response.status_code < 500 and before:
            after = fingerprint(db, skip)
            changed = sorted(t for t in after if after[t] != before.get(t))
            if changed:
                violations.append(
                    f"{response.status_code} yet {', '.join(changed)} changed:\n"
                    f"    {case.as_curl_command()}"
                )

    # before_call has no per-schema scope in schemathesis; it is removed again on exit.
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(snapshot, "before_call")
    schema.hooks.register_hook_with_name(compare, "after_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(snapshot)


def run_schemathesis(
    url: str, key: str, db: Database, background: frozenset[str] = frozenset()
) -> tuple[list[str], int]:
    """Run every phase against URL; the failures found and how many requests were sent."""
    auth = {"Authorization": f"Bearer {key}"}
    config = SchemathesisConfig()
    config.update(seed=SEED, max_failures=None)
    project = config.projects.override
    project.update(base_url=url, headers=auth, workers=1, request_timeout=30)
    project.phases.update(phases=PHASES)
    project.checks.update(included_check_names=["all"])
    project.checks.positive_data_acceptance.expected_statuses = POSITIVE_DATA_STATUSES
    # OFREP refuses a context the domain cannot take (too deep, a control character) with
    # the protocol's 400 INVALID_CONTEXT, where every other route answers 422.
    ofrep = {"expected-statuses": [*POSITIVE_DATA_STATUSES, "400"]}
    project.operations = OperationsConfig(
        operations=[
            OperationConfig.from_dict(
                {"include-path-regex": "^/ofrep/", "checks": {"positive_data_acceptance": ofrep}}
            )
        ]
    )
    project.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    schema = schemathesis.openapi.from_url(url + "/openapi.json", config=config, headers=auth)
    failures: list[str] = []
    sent = 0
    with rejected_requests_change_nothing(schema, db, failures, background):
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                sent += len(event.recorder.interactions)
                failures.extend(_describe(event))
            elif isinstance(event, events.NonFatalError | events.FatalError):
                failures.append(f"schemathesis error: {event!r}")
    return failures, sent


def _describe(event: events.ScenarioFinished) -> Iterator[str]:
    recorder = event.recorder
    for interaction in recorder.interactions.values():
        response = interaction.response
        if response is not None and response.status_code >= 500:
            yield f"{event.label}: {response.status_code} for {interaction.request.uri}"
    for checks in recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                yield (
                    f"[{event.phase.value}] {event.label} {check.name}: {failure.title}\n"
                    f"    {failure.message}\n    {check.failure_info.code_sample}"
                )


def _serve(target: Target, data_dir: Path) -> tuple[PlatformContext, str]:
    settings = settings_for_test(data_dir, **NO_RATE_LIMIT, **target.settings)
    ctx = build_context(settings)
    migrations.upgrade(ctx.db)
    _, key = ctx.api_keys.create(role=Role.ADMIN, tenant=target.tenant, name="fuzzer")
    return ctx, key


@pytest.mark.parametrize("target", TARGETS, ids=[t.service for t in TARGETS])
def test_schemathesis_finds_nothing(target: Target, tmp_path: Path) -> None:
    """No 5xx, no response off its documented schema, no state changed by a refused request."""
    ctx, key = _serve(target, tmp_path / "data")
    try:
        app = create_app(ctx, target.service, SERVICES[target.service].factory())
        with LiveServer(app) as server:
            failures, sent = run_schemathesis(server.url, key, ctx.db, target.background)
    finally:
        ctx.close()
    assert sent > 100 * MAX_EXAMPLES // 12, f"only {sent} requests were sent"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
