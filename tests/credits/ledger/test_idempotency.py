"""Idempotency survives a restart of the writer; keys expire after the retention."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from shieldx.credits.ledger.service import CreditsService, Idempotency, fingerprint
from shieldx.credits.ledger.sweeper import Sweeper
from shieldx.credits.writer.submissions import IdempotencyMismatch, WriterUnavailable
from shieldx.platform.context import PlatformContext

from ..conftest import Clock, run_service


def _key(key: str, **payload: object) -> Idempotency:
    return Idempotency(key, fingerprint("consume", "t", payload))


async def _consume(service: CreditsService, key: str, amount: int) -> tuple[int, bytes, bool]:
    result = await service.consume(
        tenant="t", account_id="a", amount=amount, reason="x", idem=_key(key, amount=amount)
    )
    return result.status, result.body, result.replayed


def test_the_original_answer_comes_back_after_a_restart(ctx_on_backend: PlatformContext) -> None:
    async def first(service: CreditsService) -> tuple[tuple[int, bytes, bool], bytes]:
        await service.purchase(
            tenant="t", account_id="a", amount=100, grant_type="paid", priority=0, expires_at=None,
            payment=None, idem=Idempotency("buy", "h"),
        )  # fmt: skip
        threshold = await service.set_threshold(
            tenant="t", account_id="a", threshold=5, webhook_url="https://example.com/h",
            idem=Idempotency("hook", "h2"),
        )  # fmt: skip
        return await _consume(service, "k1", 30), threshold.body

    (status, body, replayed), hook = run_service(ctx_on_backend, first)
    assert (status, replayed) == (200, False)

    async def second(service: CreditsService) -> None:
        assert service.writer.commands == {}  # a new process: nothing in memory
        # Warm the account first: the key is then assumed new, the command log's primary
        # key refuses it at commit, and the retry finds the original answer.
        await _consume(service, "warm", 1)
        again = await _consume(service, "k1", 30)
        assert again == (200, body, True)
        with pytest.raises(IdempotencyMismatch):
            await _consume(service, "k1", 31)
        # The webhook secret is in the answer; the command log keeps that answer sealed.
        replay = await service.set_threshold(
            tenant="t", account_id="a", threshold=5, webhook_url="https://example.com/h",
            idem=Idempotency("hook", "h2"),
        )  # fmt: skip
        assert replay.body == hook and orjson.loads(hook)["webhook_secret"].startswith("whsec_")
        # Concurrent duplicates of a new key run once.
        results = await asyncio.gather(*(_consume(service, "k2", 10) for _ in range(5)))
        assert len({r[1] for r in results}) == 1 and sum(not r[2] for r in results) == 1

    run_service(ctx_on_backend, second)

    async def balance(service: CreditsService) -> int:
        await _consume(service, "k3", 1)
        return service.writer.accounts[("t", "a")].balance

    assert run_service(ctx_on_backend, balance) == 100 - 30 - 1 - 10 - 1


def test_keys_are_forgotten_after_the_retention(
    platform_ctx: PlatformContext, clock: Clock
) -> None:
    async def scenario(service: CreditsService) -> int:
        await service.purchase(
            tenant="t", account_id="a", amount=100, grant_type="paid", priority=0, expires_at=None,
            payment=None, idem=Idempotency("buy", "h"),
        )  # fmt: skip
        await _consume(service, "k1", 30)
        sweeper = Sweeper(service, clock=clock)
        assert sweeper.forget_old_commands() == 0
        clock.advance(service.settings.idempotency_retention.total_seconds() + 1)
        return sweeper.forget_old_commands()

    assert run_service(platform_ctx, scenario, clock=clock) == 2

    async def reuse(service: CreditsService) -> tuple[int, bytes, bool]:
        return await _consume(service, "k1", 30)

    assert run_service(platform_ctx, reuse, clock=clock)[2] is False  # executed again


def test_a_crashed_writer_answers_unavailable_instead_of_hanging(
    ctx_on_backend: PlatformContext,
) -> None:
    """Fault injection: a bug in the writer loop answers 503, never hangs, and is restarted."""

    async def scenario(service: CreditsService) -> list[object]:
        await service.purchase(
            tenant="t", account_id="a", amount=10, grant_type="paid", priority=0,
            expires_at=None, payment=None, idem=Idempotency("buy", "h"),
        )  # fmt: skip
        writer = service.writer

        def broken(items: object) -> None:
            raise RuntimeError("injected bug")

        writer.fault = broken
        outcomes: list[object] = []
        for n in range(2):  # the one that meets the bug, and one sent while it restarts
            call = service.consume(
                tenant="t", account_id="a", amount=1, reason="r", idem=Idempotency(f"c{n}", "h")
            )
            outcomes += await asyncio.wait_for(asyncio.gather(call, return_exceptions=True), 10)
        writer.fault = None
        deadline = asyncio.get_running_loop().time() + 30
        while writer.unready() is not None:
            assert asyncio.get_running_loop().time() < deadline, writer.unready()
            await asyncio.sleep(0.01)
        again = await service.consume(
            tenant="t", account_id="a", amount=1, reason="r", idem=Idempotency("c0", "h")
        )
        return [*outcomes, again.status]

    outcomes = run_service(ctx_on_backend, scenario)
    assert [type(o) for o in outcomes[:2]] == [WriterUnavailable, WriterUnavailable]
    assert "restarting" in str(outcomes[1])
    assert outcomes[2] == 200  # restarted without a restart of the service; retried by key
