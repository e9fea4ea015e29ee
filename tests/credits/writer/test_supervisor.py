"""The writer survives: a crash of its loop or of the commit process is restarted, /ready says so
while it is down, and nothing acknowledged is lost. One failing submission fails alone."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shieldx.credits.ledger.commands import Command, Purchase
from shieldx.credits.ledger.domain import Account
from shieldx.credits.ledger.events import Event
from shieldx.credits.ledger.ids import new_id
from shieldx.credits.ledger.service import CreditsService
from shieldx.credits.store.records import AccountKey
from shieldx.credits.writer.submissions import ApplyFailed, Submission
from shieldx.credits.writer.supervisor import Supervisor
from shieldx.credits.writer.work_units import SingleCommand
from shieldx.platform.context import PlatformContext

from ..conftest import Api, run_service, serve_credits

Acked = list[tuple[str, dict[str, Any], dict[str, Any]]]  # key, body, answer


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def _commit_process() -> int:
    """The pid of the commit process, a child of some thread of this (the test's) process."""
    me = os.getpid()
    for task in Path(f"/proc/{me}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            if b"shieldx.credits.writer.process" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
    raise AssertionError("no commit process")


def _restarts(api: Api) -> float:
    text = api.http.get("/metrics").text
    found = re.search(r"^credits_writer_restarts_total (\S+)$", text, re.M)
    assert found is not None, "credits_writer_restarts_total is not exported"
    return float(found.group(1))


def _writer_up(api: Api) -> float:
    found = re.search(r"^credits_writer_up (\S+)$", api.http.get("/metrics").text, re.M)
    assert found is not None, "credits_writer_up is not exported"
    return float(found.group(1))


def _buy(api: Api, acked: Acked, amount: int = 3) -> None:
    key = new_id("k")
    body = {"account_id": "acct", "amount": amount}
    answer = api.post("/credits/purchase", body, key=key)
    assert answer.status_code == 201, answer.text
    acked.append((key, body, answer.json()))


def _check_nothing_lost(api: Api, acked: Acked) -> None:
    for key, body, answer in acked:
        again = api.post("/credits/purchase", body, key=key)
        assert again.status_code == 201 and again.json() == answer, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
    balance = api.get("/credits/balance/acct").json()
    assert balance["balance"] == sum(body["amount"] for _, body, _ in acked)


def _service(api: Api) -> CreditsService:
    service = api.component.extra["service"]
    assert isinstance(service, CreditsService)
    return service


def test_a_killed_commit_process_is_restarted_and_ready_says_so_meanwhile(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        writer = _service(api).writer
        writer.supervisor.min_delay = 2.0  # a pause long enough to watch /ready while down
        acked: Acked = []
        for _ in range(5):
            _buy(api, acked)
        assert api.http.get("/ready").status_code == 200
        assert (_writer_up(api), _restarts(api)) == (1, 0)
        child = _commit_process()
        os.kill(child, signal.SIGKILL)
        _until(lambda: api.http.get("/ready").status_code == 503, "/ready answers 503")
        down = api.http.get("/ready")
        assert "writer" in down.json()["detail"] or "commit" in down.json()["detail"]
        assert _writer_up(api) == 0
        refused = api.post("/credits/purchase", {"account_id": "acct", "amount": 1})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
        _until(lambda: api.http.get("/ready").status_code == 200, "/ready answers 200 again")
        assert _commit_process() != child
        assert (_writer_up(api), _restarts(api)) == (1, 1)
        for _ in range(5):
            _buy(api, acked)  # writes resume without restarting the server
        _check_nothing_lost(api, acked)


def test_a_crashed_writer_loop_is_restarted_and_loses_nothing_acknowledged(
    platform_ctx: PlatformContext,
) -> None:
    with serve_credits(platform_ctx) as api:
        writer = _service(api).writer
        writer.supervisor.min_delay = 2.0
        acked: Acked = []
        for _ in range(5):
            _buy(api, acked)
        crashed: list[int] = []

        def crash_once(items: list[Submission]) -> None:
            if not crashed:
                crashed.append(len(items))
                raise RuntimeError("injected writer crash")

        writer.fault = crash_once
        key = new_id("k")
        lost = api.post("/credits/purchase", {"account_id": "acct", "amount": 100}, key=key)
        assert crashed and lost.status_code == 503, lost.text
        assert lost.json()["type"].endswith("ledger-unavailable")
        assert api.http.get("/ready").status_code == 503  # down for min_delay at least
        _until(lambda: api.http.get("/ready").status_code == 200, "/ready answers 200 again")
        assert _restarts(api) == 1
        # The refused request changed nothing; retried with its key it is applied once.
        assert api.get("/credits/balance/acct").json()["balance"] == 15
        _buy(api, acked)
        retried = api.post("/credits/purchase", {"account_id": "acct", "amount": 100}, key=key)
        assert retried.status_code == 201, retried.text
        acked.append((key, {"account_id": "acct", "amount": 100}, retried.json()))
        _check_nothing_lost(api, acked)


class _Broken:
    """A unit of work whose decide raises what no refusal is: a stand-in for any bug."""

    op = "purchase"
    sensitive = False

    def __init__(self, key: AccountKey) -> None:
        self.keys: Sequence[AccountKey] = (key,)
        self.commands: Sequence[Command] = ()

    def decide(
        self, accounts: Mapping[AccountKey, Account], now: int
    ) -> list[tuple[Account, list[Event]]]:
        raise ValueError("year 33715 is out of range")

    def respond(self) -> tuple[int, dict[str, Any]]:
        raise AssertionError("never decided")


def test_a_submission_that_raises_fails_alone_and_its_cohort_commits(
    platform_ctx: PlatformContext,
) -> None:
    async def scenario(service: CreditsService) -> tuple[list[Any], int, str | None]:
        writer = service.writer

        def purchase(n: int) -> SingleCommand:
            command = Purchase(n, "paid", 100, None, new_id("gr"), new_id("tx"))
            return SingleCommand(("t", f"acct-{n}"), command)

        works: list[Any] = [purchase(n) for n in range(1, 4)]
        works.insert(1, _Broken(("t", "acct-9")))
        results = await asyncio.gather(*(writer.submit(w) for w in works), return_exceptions=True)
        after = await writer.submit(purchase(7))
        return results, after.status, writer.unready()

    results, status, unready = run_service(platform_ctx, scenario)
    assert isinstance(results[1], ApplyFailed)
    assert [getattr(r, "status", None) for r in results] == [201, None, 201, 201]
    assert (status, unready) == (201, None)


def test_backoff_doubles_up_to_its_cap_and_stop_ends_a_pause() -> None:
    async def main() -> tuple[list[float], float]:
        calls = 0
        delays: list[float] = []

        async def body() -> None:
            nonlocal calls
            calls += 1
            if calls <= 5:
                raise RuntimeError(f"crash {calls}")
            supervisor.mark_up()

        crashed = asyncio.Event()

        async def recover(error: BaseException) -> None:
            delays.append(supervisor.delay)
            crashed.set()

        supervisor = Supervisor(
            body, recover=recover, event="test.down", min_delay=0.01, max_delay=0.04
        )
        await asyncio.wait_for(supervisor.run(), 5)
        assert supervisor.restarts == 5 and supervisor.down is None

        slow = Supervisor(body, recover=recover, event="test.down", min_delay=60)
        calls = 0
        crashed.clear()
        task = asyncio.create_task(slow.run())
        await crashed.wait()
        started = time.monotonic()
        slow.stop()
        await asyncio.wait_for(task, 5)
        return delays, time.monotonic() - started

    delays, stopped_in = asyncio.run(main())
    assert delays[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert stopped_in < 5  # not the 60 s pause
