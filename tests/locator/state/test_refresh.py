"""Coalesced refreshes: shared rounds, no answer older than its request, failures surface."""

from __future__ import annotations

import asyncio
import threading

import pytest

from shieldx.locator.state.refresh import CoalescedRefresh, Freshness
from shieldx.locator.state.versionfile import Versions


class GatedFetch:
    """A fetch that blocks in its worker thread until the test opens the gate."""

    def __init__(self) -> None:
        self.calls = 0
        self.applied: list[int] = []
        self.started = threading.Event()
        self.gate = threading.Event()
        self.fail = False

    def fetch(self) -> int:
        self.calls += 1
        number = self.calls
        self.started.set()
        assert self.gate.wait(10), "the test never opened the gate"
        if self.fail:
            raise RuntimeError("database down")
        return number

    def apply(self, number: int) -> None:
        self.applied.append(number)


async def _wait_started(fetch: GatedFetch) -> None:
    await asyncio.to_thread(fetch.started.wait, 10)
    fetch.started.clear()


def test_callers_waiting_together_share_one_round() -> None:
    async def scenario() -> None:
        fetch = GatedFetch()
        refresh = CoalescedRefresh(fetch.fetch, fetch.apply)
        fetch.gate.set()
        await asyncio.gather(*(refresh.ensure_fresh() for _ in range(20)))
        assert fetch.calls == 1
        assert refresh.rounds == 1

    asyncio.run(scenario())


def test_a_caller_arriving_during_a_round_waits_for_the_next_one() -> None:
    async def scenario() -> None:
        fetch = GatedFetch()
        refresh = CoalescedRefresh(fetch.fetch, fetch.apply)
        first = asyncio.create_task(refresh.ensure_fresh())
        await _wait_started(fetch)  # round 1 is reading the database now
        late = asyncio.create_task(refresh.ensure_fresh())
        await asyncio.sleep(0)
        fetch.gate.set()
        await first
        await late
        # The late caller may have written just before calling: round 1 began too early.
        assert fetch.applied == [1, 2]

    asyncio.run(scenario())


def test_a_failed_round_raises_to_its_waiters_and_the_next_call_retries() -> None:
    async def scenario() -> None:
        fetch = GatedFetch()
        fetch.fail = True
        fetch.gate.set()
        refresh = CoalescedRefresh(fetch.fetch, fetch.apply)
        with pytest.raises(RuntimeError, match="database down"):
            await refresh.ensure_fresh()
        fetch.fail = False
        await refresh.ensure_fresh()
        assert fetch.applied == [2]

    asyncio.run(scenario())


class Probe:
    def __init__(self, versions: Versions | None) -> None:
        self.versions = versions
        self.reads = 0

    def read(self) -> Versions | None:
        self.reads += 1
        return self.versions


def test_freshness_skips_the_round_when_the_probe_sees_no_change() -> None:
    async def scenario() -> None:
        fetch = GatedFetch()
        fetch.gate.set()
        applied = Versions(3, 1)
        probe = Probe(Versions(3, 1))
        freshness = Freshness(
            CoalescedRefresh(fetch.fetch, fetch.apply), lambda: applied, probe=probe
        )
        await freshness.ensure_fresh()
        assert (probe.reads, fetch.calls) == (1, 0)
        probe.versions = Versions(4, 1)  # another process revoked something
        await freshness.ensure_fresh()
        assert fetch.calls == 1
        probe.versions = None  # the probe cannot answer: fall back to a round
        await freshness.ensure_fresh()
        assert fetch.calls == 2

    asyncio.run(scenario())


def test_freshness_without_a_probe_always_runs_a_round() -> None:
    async def scenario() -> None:
        fetch = GatedFetch()
        fetch.gate.set()
        freshness = Freshness(CoalescedRefresh(fetch.fetch, fetch.apply), lambda: Versions(0, 0))
        await freshness.ensure_fresh()
        await freshness.ensure_fresh()
        assert fetch.calls == 2

    asyncio.run(scenario())


def test_max_staleness_limits_checks() -> None:
    async def scenario() -> None:
        now = [100.0]
        fetch = GatedFetch()
        fetch.gate.set()
        freshness = Freshness(
            CoalescedRefresh(fetch.fetch, fetch.apply),
            lambda: Versions(0, 0),
            max_staleness=1.0,
            clock=lambda: now[0],
        )
        await freshness.ensure_fresh()
        now[0] += 0.5
        await freshness.ensure_fresh()
        assert fetch.calls == 1
        now[0] += 1.0
        await freshness.ensure_fresh()
        assert fetch.calls == 2

    asyncio.run(scenario())
