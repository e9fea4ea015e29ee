"""The invariant under concurrency: 200 HTTP consumers race for one account (both backends)."""

from __future__ import annotations

import asyncio
import random
from urllib.parse import urlsplit

from shieldx.credits.audit import verify as audit
from shieldx.credits.ledger.ids import new_id
from shieldx.credits.store.backends import create_store
from shieldx.platform.context import PlatformContext

from ..conftest import RawConnection, serve_credits

START = 1_000
CONSUMERS = 200


async def _race(base: str, token: str) -> tuple[int, list[int]]:
    url = urlsplit(base)
    statuses: list[int] = []
    consumed = 0
    start = asyncio.Event()

    async def consumer(seed: int) -> None:
        nonlocal consumed
        rng = random.Random(seed)
        connection = RawConnection(url.hostname or "", url.port or 80, token)
        await start.wait()
        try:
            while True:
                amount = rng.randint(1, 3)
                while True:
                    body = {"account_id": "pool", "amount": amount, "reason": "race"}
                    status, _ = await connection.post("/credits/consume", body, new_id("k"))
                    statuses.append(status)
                    if status == 200:
                        consumed += amount
                        break
                    if status != 409 or amount == 1:
                        return
                    amount = 1
        finally:
            await connection.close()

    tasks = [asyncio.create_task(consumer(n)) for n in range(CONSUMERS)]
    start.set()
    await asyncio.gather(*tasks)
    return consumed, statuses


def test_concurrent_consumers_never_overdraw(ctx_on_backend: PlatformContext) -> None:
    with serve_credits(ctx_on_backend) as api:
        assert (
            api.post("/credits/purchase", {"account_id": "pool", "amount": START}).status_code
            == 201
        )
        consumed, statuses = asyncio.run(_race(api.base, api.keys["a"]))
        final = api.get("/credits/balance/pool").json()
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    assert set(statuses) <= {200, 409}
    assert statuses.count(409) >= CONSUMERS  # every consumer ran dry at least once
    assert consumed == START
    assert (final["balance"], final["available"]) == (0, 0)
    assert audit.verify(create_store(ctx_on_backend.db)).ok
