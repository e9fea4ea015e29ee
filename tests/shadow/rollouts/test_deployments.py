"""Deployments driven in-process: a manual clock and controller ticks stand in for time."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.shadow.rollouts.domain import Policy, Strategy
from shieldx.shadow.rollouts.gates import Gates
from shieldx.shadow.rollouts.service import DeployRequest
from shieldx.shadow.rules.domain import Action, ErrorPolicy, Rule
from shieldx.shadow.rules.records import Label, normalize_record
from shieldx.shadow.service import ShadowService
from shieldx.shadow.timeutil import ManualClock

from ..conftest import new_service

ALLOW_ALL = [Rule("nothing", "false", Action.BLOCK)]
ADMIN_ONLY = [Rule("admin", 'path.startsWith("/admin")', Action.BLOCK)]
BLOCK_ALL = [Rule("everything", "true", Action.BLOCK)]
# Fails at run time on records without the header (a missing map key is an error).
NEEDS_PROBE = [Rule("probe", 'headers["x-probe"] == "evil"', Action.BLOCK)]


def record(i: int, **fields: Any) -> Any:
    """A distinct client per i."""
    return normalize_record(
        {"ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", "path": "/", **fields}
    )


def request(strategy: Strategy, ruleset: str, gates: Gates, **fields: Any) -> DeployRequest:
    """A deploy request with short stages."""
    options: dict[str, Any] = {
        "tenant": "acme",
        "created_by": "k",
        "strategy": strategy,
        "stages": (10.0, 50.0, 100.0),
        "stage_duration_s": 60.0,
        "post_promotion_window_s": 60.0,
        "policy": Policy(gates, max_inconclusive_s=120.0),
        "sticky_key": "ip",
        "ruleset": ruleset,
    }
    options.update(fields)
    return DeployRequest(**options)


def run(
    ctx: PlatformContext, clock: ManualClock, scenario: Callable[[ShadowService], Awaitable[None]]
) -> None:
    """Run SCENARIO against a started service (no background tasks)."""

    async def main() -> None:
        service = new_service(ctx, clock)
        await service.start(background=False)
        for name, rules in (
            ("open", ALLOW_ALL),
            ("admin", ADMIN_ONLY),
            ("closed", BLOCK_ALL),
            ("probe", NEEDS_PROBE),
        ):
            await service.rulesets.create(tenant="acme", name=name, rules=rules, on_error=ErrorPolicy.FAIL_OPEN, created_by="k")  # fmt: skip
        await service.deploy(request(Strategy.IMMEDIATE, "open@1", Gates()))
        try:
            await scenario(service)
        finally:
            await service.stop()

    asyncio.run(main())


def context(make_settings: Callable[..., Settings], **overrides: Any) -> PlatformContext:
    ctx = build_context(make_settings(**overrides))
    migrations.upgrade(ctx.db)
    return ctx


def versions(service: ShadowService, start: int, count: int, **fields: Any) -> Counter[str]:
    """Decide COUNT requests from distinct clients; how many each version enforced."""
    seen: Counter[str] = Counter()
    for i in range(start, start + count):
        doc = service.decide("acme", record(i, **fields), label=None, gateway=None)
        seen[f"{doc['ruleset']}@{doc['version']}"] += 1
    return seen


def on_new(service: ShadowService, clients: range) -> set[int]:
    """The clients whose requests the new version (admin@1) enforces."""
    return {
        i
        for i in clients
        if service.decide("acme", record(i), label=None, gateway=None)["ruleset"] == "admin"
    }


def test_a_canary_moves_stage_by_stage_and_units_stay_sticky(
    ctx_on_backend: PlatformContext,
) -> None:
    clock = ManualClock()

    async def scenario(service: ShadowService) -> None:
        gates = Gates(max_error_rate=0.05, max_block_rate_increase=0.02, min_samples_per_stage=20)
        deployment = await service.deploy(request(Strategy.CANARY, "admin@1", gates))
        first = on_new(service, range(400))
        assert 15 <= len(first) <= 75  # 10 % of 400 clients, within four standard deviations
        assert on_new(service, range(400)) == first  # sticky: the same clients every time
        assert await service.controller.tick() == 0  # the 60 s window is still open
        clock.advance(60)
        assert await service.controller.tick() == 1
        second = on_new(service, range(400))
        assert 150 <= len(second) <= 250
        assert first <= second  # raising the share never moves anyone back
        clock.advance(60)
        assert await service.controller.tick() == 1
        assert versions(service, 1000, 50) == {"admin@1": 50}
        clock.advance(60)
        assert await service.controller.tick() == 1
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "completed" and report["current"] is None
        assert [(s["percentage"], s["verdict"]) for s in report["stages"]] == [
            (10, "pass"),
            (50, "pass"),
            (100, "pass"),
        ]
        assert report["stages"][0]["counts"]["requests"] == 2 * len(first)
        assert report["stages"][1]["counts"]["requests"] == len(second)
        assert report["stages"][2]["counts"]["requests"] == 50
        assert {c["gate"] for c in report["stages"][0]["checks"]} == {
            "max_error_rate",
            "max_block_rate_increase",
        }
        rule = service.deployment_store.traffic_rule("acme")
        assert rule is not None and rule.stable == ("admin", 1) and rule.candidate is None

    run(ctx_on_backend, clock, scenario)


def test_a_failing_gate_rolls_back_at_once_with_the_reason(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        gates = Gates(max_block_rate_increase=0.02, min_samples_per_stage=30)
        deployment = await service.deploy(
            request(Strategy.CANARY, "closed@1", gates, stages=(50.0, 100.0))
        )
        versions(service, 0, 100)
        assert await service.controller.tick() == 1  # inside the window: a failure does not wait
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "rolled_back"
        assert report["reason"].startswith("gate failed: max_block_rate_increase")
        assert report["stages"][0]["verdict"] == "fail"
        assert (
            report["rollbacks"][0]["from"] == "closed@1"
            and report["rollbacks"][0]["to"] == "open@1"
        )
        assert report["rollbacks"][0]["trigger"] == "automatic"
        assert versions(service, 0, 100) == {"open@1": 100}
        assert service.metrics.rollbacks.labels("canary", "automatic")._value.get() == 1

    run(ctx, clock, scenario)
    ctx.close()


def test_an_inconclusive_stage_pauses_then_resumes_with_fresh_counts(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        gates = Gates(max_false_positive_rate=0.05, min_samples_per_stage=10)
        req = request(Strategy.CANARY, "admin@1", gates, stages=(100.0,), policy=Policy(gates, max_inconclusive_s=120.0, on_inconclusive="pause"))  # fmt: skip
        deployment = await service.deploy(req)
        versions(service, 0, 50)  # unlabelled: the false-positive gate cannot tell
        clock.advance(179)
        assert await service.controller.tick() == 0
        clock.advance(1)
        assert await service.controller.tick() == 1
        paused = await service.deployment(deployment["id"], lambda _t: True)
        assert paused["status"] == "paused" and "no labelled benign traffic" in paused["reason"]
        assert versions(service, 0, 20) == {"admin@1": 20}  # the split is kept while paused
        resumed = await service.operate(deployment["id"], "resume", lambda _t: True, by="op")
        assert resumed["status"] == "running"
        for i in range(200):
            service.decide("acme", record(i), label=Label.BENIGN, gateway=None)
        clock.advance(60)
        assert await service.controller.tick() == 1
        done = await service.deployment(deployment["id"], lambda _t: True)
        assert done["status"] == "completed"
        assert [(s["seq"], s["verdict"]) for s in done["stages"]] == [
            (1, "inconclusive"),
            (2, "pass"),
        ]
        assert done["stages"][1]["counts"]["benign"] == 200

    run(ctx, clock, scenario)
    ctx.close()


def test_blue_green_analyses_in_shadow_switches_atomically_and_can_switch_back(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        gates = Gates(max_error_rate=0.05, min_samples_per_stage=20)
        deployment = await service.deploy(request(Strategy.BLUE_GREEN, "probe@1", gates))
        probed = {"headers": {"x-probe": "fine"}}
        doc = service.decide("acme", record(1, **probed), label=None, gateway=None)
        assert (doc["ruleset"], doc["shadow"][0]["source"], doc["shadow"][0]["ruleset"]) == (
            "open",
            "candidate",
            "probe",
        )
        assert versions(service, 0, 100, **probed) == {
            "open@1": 100
        }  # analysis: nothing enforced yet
        clock.advance(60)
        assert await service.controller.tick() == 1
        assert versions(service, 0, 100, **probed) == {
            "probe@1": 100
        }  # the switch: everyone at once
        versions(service, 100, 100)  # no header: the new rules fail at run time
        assert await service.controller.tick() == 1
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "rolled_back" and "max_error_rate" in report["reason"]
        assert [s["phase"] for s in report["stages"]] == ["analysis", "post_promotion"]
        assert report["stages"][0]["counts"]["requests"] == 101  # every request, in shadow
        assert report["stages"][1]["counts"]["errors"] == 100
        assert versions(service, 0, 10, **probed) == {"open@1": 10}

    run(ctx, clock, scenario)
    ctx.close()


def test_rolling_moves_registered_gateways_one_by_one(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        for gateway in ("gw-a", "gw-b"):
            assert await service.register_gateway("acme", gateway, "")
            clock.advance(1)
        deployment = await service.deploy(
            request(Strategy.ROLLING, "admin@1", Gates(min_samples_per_stage=5))
        )

        def via(gateway: str | None) -> str:
            return str(service.decide("acme", record(7), label=None, gateway=gateway)["ruleset"])

        assert (via("gw-a"), via("gw-b"), via(None)) == ("admin", "open", "open")
        for i in range(10):
            service.decide("acme", record(i), label=None, gateway="gw-a")
        clock.advance(60)
        assert await service.controller.tick() == 1
        assert (via("gw-a"), via("gw-b")) == ("admin", "admin")
        gateways = await service.gateway_list("acme")
        assert [(g["gateway_id"], g["on_candidate"]) for g in gateways] == [
            ("gw-a", True),
            ("gw-b", True),
        ]
        for i in range(10):
            service.decide("acme", record(i), label=None, gateway="gw-b")
        clock.advance(60)
        assert await service.controller.tick() == 1
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "completed"
        assert [s["gateways"] for s in report["plan"]] == [["gw-a"], ["gw-a", "gw-b"]]
        assert via(None) == "admin"

    run(ctx, clock, scenario)
    ctx.close()
