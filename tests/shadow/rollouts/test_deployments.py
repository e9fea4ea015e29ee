"""Deployments driven in-process: a manual clock and controller ticks stand in for time."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from shieldx.config import Settings
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext, build_context
from shieldx.shadow.rollouts.domain import Policy, Strategy, Switch
from shieldx.shadow.rollouts.gates import Gates
from shieldx.shadow.rollouts.gateways import Heartbeat
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


def half_failing(service: ShadowService, start: int, count: int) -> None:
    """Decide COUNT requests, every other one without the probe header (NEEDS_PROBE fails on
    it): an error rate far over any gate, never 20 failures in a row (the circuit breaker)."""
    for i in range(start, start + count):
        fields = {"headers": {"x-probe": "fine"}} if i % 2 else {}
        service.decide("acme", record(i, **fields), label=None, gateway=None)


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
        atomic = request(Strategy.BLUE_GREEN, "probe@1", gates, switch=Switch.ATOMIC)
        deployment = await service.deploy(atomic)
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
        half_failing(service, 100, 200)  # every other one without the header: fails
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


def test_promote_full_leaves_the_deployment_showing_its_final_state(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        deployment = await service.deploy(request(Strategy.CANARY, "admin@1", Gates()))
        assert (deployment["stage_index"], deployment["percentage"]) == (0, 10.0)
        done = await service.operate(
            deployment["id"], "promote", lambda _t: True, by="op", full=True
        )
        assert (done["status"], done["stage_index"], done["stages_total"]) == ("completed", 2, 3)
        assert done["percentage"] == 100.0
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert (report["status"], report["stage_index"], report["percentage"]) == (
            "completed",
            2,
            100.0,
        )
        assert report["current"] is None
        assert versions(service, 0, 50) == {"admin@1": 50}
        # A blue-green deployment promoted during its 0 % analysis stage is at 100 % too.
        blue_green = await service.deploy(request(Strategy.BLUE_GREEN, "closed@1", Gates()))
        assert blue_green["percentage"] == 0.0
        finished = await service.operate(
            blue_green["id"], "promote", lambda _t: True, by="op", full=True
        )
        assert (finished["stage_index"], finished["percentage"]) == (10, 100.0)

    run(ctx, clock, scenario)
    ctx.close()


def test_a_gradual_blue_green_switch_moves_ten_validated_steps_and_rolls_everyone_back(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        gates = Gates(max_error_rate=0.05, min_samples_per_stage=20)
        deployment = await service.deploy(request(Strategy.BLUE_GREEN, "probe@1", gates))
        probed = {"headers": {"x-probe": "fine"}}
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert [(s["phase"], s["percentage"]) for s in report["plan"]] == [
            ("analysis", 0.0),
            *(("switch", 10.0 * (i + 1)) for i in range(10)),
        ]
        assert {s["duration_s"] for s in report["plan"][1:]} == {6.0}  # 60 s window / 10
        versions(service, 0, 100, **probed)  # analysis: in shadow on everything
        clock.advance(60)
        assert await service.controller.tick() == 1  # validated: the first 10 % step
        for step in (1, 2, 3):
            seen = versions(service, 0, 400, **probed)
            # Sticky units: the share grows by a tenth each step, the rest stays on the old.
            assert seen["probe@1"] + seen["open@1"] == 400
            assert abs(seen["probe@1"] - 40 * step) < 40, (step, seen)
            clock.advance(6)
            assert await service.controller.tick() == 1  # gates passed: next step
        current = await service.deployment(deployment["id"], lambda _t: True)
        assert (current["status"], current["stage_index"], current["percentage"]) == (
            "running",
            4,
            40.0,
        )
        half_failing(service, 0, 1000)  # the new rules fail on half of the 40 % they serve
        assert await service.controller.tick() == 1
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "rolled_back" and "max_error_rate" in report["reason"]
        assert report["rollbacks"][0]["stage_index"] == 4
        # The old version was never switched off: everyone is back on it at once.
        assert versions(service, 0, 200, **probed) == {"open@1": 200}

    run(ctx, clock, scenario)
    ctx.close()


def test_gateway_heartbeats_gate_stages_and_environments_follow_the_split(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def beat(service: ShadowService, gateway: str, error_rate: float, p95: float) -> None:
        await service.heartbeat(
            Heartbeat(
                "acme", gateway, clock(), requests=100, error_rate=error_rate, latency_p95_ms=p95
            )
        )

    async def scenario(service: ShadowService) -> None:
        (settled,) = await service.environments("acme")
        assert {k: v for k, v in settled.items() if k != "updated_at"} == {
            "environment": "stable",
            "ruleset": "open@1",
            "percentage": 100.0,
            "deployment_id": None,
        }
        for gateway in ("gw-a", "gw-b", "gw-c"):
            await service.register_gateway("acme", gateway, "")
        gates = Gates(max_error_rate=0.05, min_samples_per_stage=0)
        deployment = await service.deploy(request(Strategy.CANARY, "admin@1", gates))
        envs = {
            e["environment"]: (e["ruleset"], e["percentage"])
            for e in await service.environments("acme")
        }
        assert envs == {"stable": ("open@1", 90.0), "canary": ("admin@1", 10.0)}
        # No heartbeat yet: no instance gates. Two healthy of three: more than half.
        await beat(service, "gw-a", 0.0, 40.0)
        await beat(service, "gw-b", 0.01, 55.0)
        versions(service, 0, 50)
        clock.advance(60)
        assert await service.controller.tick() == 1  # advanced to 50 %
        report = await service.deployment(deployment["id"], lambda _t: True)
        gates_seen = {c["gate"]: c["verdict"] for c in report["stages"][0]["checks"]}
        assert (
            gates_seen["instance_health"] == "pass" and gates_seen["decision_latency_p95"] == "pass"
        )
        # gw-b starts failing its decisions: one healthy of three; the stage fails at once.
        await beat(service, "gw-a", 0.0, 40.0)
        await beat(service, "gw-b", 0.3, 55.0)
        assert await service.controller.tick() == 1
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "rolled_back"
        assert report["reason"].startswith("gate failed: instance_health: 1 of 3 gateways healthy")
        envs = {
            e["environment"]: (e["ruleset"], e["percentage"])
            for e in await service.environments("acme")
        }
        assert envs == {"stable": ("open@1", 100.0)}
        listed = {g["gateway_id"]: g["healthy"] for g in await service.gateway_list("acme")}
        assert listed == {"gw-a": True, "gw-b": False, "gw-c": None}
        # A slow gateway fails the latency gate; blue-green environments are blue and green.
        for gateway in ("gw-b", "gw-c"):
            await beat(service, gateway, 0.0, 30.0)
        blue_green = await service.deploy(request(Strategy.BLUE_GREEN, "admin@1", gates))
        envs = {
            e["environment"]: (e["ruleset"], e["percentage"])
            for e in await service.environments("acme")
        }
        assert envs == {"blue": ("open@1", 100.0), "green": ("admin@1", 0.0)}
        await beat(service, "gw-c", 0.0, 1500.0)
        assert await service.controller.tick() == 1
        report = await service.deployment(blue_green["id"], lambda _t: True)
        assert report["status"] == "rolled_back" and "decision_latency_p95" in report["reason"]

    run(ctx, clock, scenario)
    ctx.close()


def test_a_failing_candidate_opens_the_circuit_breaker_and_is_rolled_back(
    make_settings: Callable[..., Settings],
) -> None:
    clock, ctx = ManualClock(), context(make_settings)

    async def scenario(service: ShadowService) -> None:
        # No gate would notice in time: no error-rate gate, a long stage.
        gates = Gates(max_error_rate=None, min_samples_per_stage=10_000)
        deployment = await service.deploy(
            request(Strategy.CANARY, "probe@1", gates, stages=(100.0,))
        )
        probed = {"headers": {"x-probe": "fine"}}
        assert versions(service, 0, 19) == {"probe@1": 19}  # 19 failures in a row: closed
        assert versions(service, 19, 1, **probed) == {"probe@1": 1}  # a success resets it
        assert versions(service, 20, 20) == {"probe@1": 20}  # the 20th failure opens it
        assert versions(service, 40, 10) == {"open@1": 10}  # at once, before any controller
        assert await service.controller.tick() == 1
        report = await service.deployment(deployment["id"], lambda _t: True)
        assert report["status"] == "rolled_back"
        assert report["rollbacks"][0]["trigger"] == "circuit_breaker"
        assert report["reason"].startswith("circuit breaker open: 20 candidate decisions")
        assert "probe" in report["reason"]
        assert service.enforcer.breakers.open == {}  # forgotten once the routing moved on

    run(ctx, clock, scenario)
    ctx.close()
