"""Expensive rule evaluations, run in worker processes so that no event loop waits for them.

All four services share one event loop under `shieldx up`. A decision is pure-Python CEL
closures: in a worker *thread* it would still hold the GIL and stall the loop in 5 ms slices
(sys.getswitchinterval), so evaluations whose static cost bound is above shadow.inline_cost
go to a pool of worker processes instead. Cheap ones (the common case: the 50 sample rules
cost ~47k units, ~20 us on a typical record) stay inline, where a round trip would cost more
than the evaluation.

A worker compiles each rule set once (keyed by a digest of its definition) and keeps the
most recent ones; the parent sends the pickled definition with every task, which is cheap
next to an evaluation worth offloading. Workers are forked from a forkserver (never from
this threaded process) that has already imported the CEL compiler.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import pickle
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import anyio.to_thread

from shieldx.shadow.experiments.tallies import ExperimentTally
from shieldx.shadow.flags.domain import assign_variant, sticky_unit
from shieldx.shadow.rules.domain import Decision, RuleSet
from shieldx.shadow.rules.records import RequestRecord, TrafficRecord
from shieldx.shadow.rules.routing import RunningExperiment

_T = TypeVar("_T")
#: Compiled rule sets a worker keeps (least recently used out).
_WORKER_CACHE: Final = 32
#: A traffic chunk's cost bound: about a second of evaluation at worst, so that a big batch
#: never holds a worker for long and decisions queued behind it wait at most that.
CHUNK_COST: Final = 20_000_000


class EvaluationUnavailable(Exception):
    """The pool could not evaluate in time (deadline passed, or a worker died)."""


@dataclass(frozen=True, slots=True)
class RuleSetSpec:
    """What a worker needs to find or compile a rule set: a digest and the definition."""

    key: str
    definition: bytes


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    """A running A/B test as sent to a worker."""

    id: str
    control: RuleSetSpec
    candidate: RuleSetSpec
    split: float
    sticky_key: str
    hash_seed: str


# Worker side ---------------------------------------------------------------------------------

_compiled: OrderedDict[str, RuleSet] = OrderedDict()


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group; the parent shuts the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ping() -> bool:
    return True


def _ruleset(spec: RuleSetSpec) -> RuleSet:
    ruleset = _compiled.get(spec.key)
    if ruleset is None:
        name, version, rules, on_error = pickle.loads(spec.definition)  # noqa: S301 - our parent
        ruleset = _compiled[spec.key] = RuleSet.compile(name, version, rules, on_error)
        while len(_compiled) > _WORKER_CACHE:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(spec.key)
    return ruleset


def warm_in_worker(specs: Sequence[RuleSetSpec]) -> None:
    """Worker: compile rule sets ahead of their first evaluation."""
    for spec in specs:
        _ruleset(spec)


def decide_in_worker(specs: Sequence[RuleSetSpec], record: RequestRecord) -> list[Decision]:
    """Worker: each rule set's decision on RECORD."""
    return [_ruleset(spec).decide(record) for spec in specs]


def evaluate_all_in_worker(spec: RuleSetSpec, record: RequestRecord) -> Decision:
    """Worker: every matching rule of one rule set (the /check path)."""
    return _ruleset(spec).evaluate_all(record)


def traffic_in_worker(
    experiments: Sequence[ExperimentSpec], items: Sequence[TrafficRecord], client_bound: int
) -> tuple[dict[str, ExperimentTally], list[float]]:
    """Worker: the tallies of a traffic chunk, and each record's evaluation time."""
    loaded = [
        RunningExperiment(
            e.id, _ruleset(e.control), _ruleset(e.candidate), e.split, e.sticky_key, e.hash_seed
        )
        for e in experiments
    ]
    return evaluate_records(loaded, items, client_bound)


def evaluate_records(
    experiments: Sequence[RunningExperiment], items: Sequence[TrafficRecord], client_bound: int
) -> tuple[dict[str, ExperimentTally], list[float]]:
    """Evaluate both rule sets of every test on every record: the tallies and the timings."""
    tallies = {e.id: ExperimentTally() for e in experiments}
    timings: list[float] = []
    clock = time.perf_counter
    for item in items:
        record = item.record
        started = clock()
        for experiment in experiments:
            control = experiment.control.decide(record)
            candidate = experiment.candidate.decide(record)
            unit = sticky_unit(record, experiment.sticky_key)
            variant = assign_variant(experiment.hash_seed, unit, experiment.split)
            tallies[experiment.id].observe(
                variant, control, candidate, item.label, record["ip"], client_bound
            )
        timings.append(clock() - started)
    return tallies, timings


# Parent side ---------------------------------------------------------------------------------


class EvaluationPool:
    """A bounded pool of worker processes, started on first need; one per shadow service."""

    def __init__(self, *, workers: int, timeout: float) -> None:
        self.workers = workers
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None
        self._start_lock = threading.Lock()
        self._specs: dict[int, tuple[RuleSet, RuleSetSpec]] = {}
        self._warmed: set[str] = set()
        # Created on first use, on the loop that serves the shadow routes.
        self._slots: asyncio.Semaphore | None = None
        self._traffic_slots: asyncio.Semaphore | None = None

    @property
    def started(self) -> bool:
        """True once the worker processes run."""
        return self._executor is not None

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (none before start)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)

    def start(self) -> None:
        """Blocking (call it in a thread): start the workers and wait until each answers."""
        with self._start_lock:
            if self._executor is not None:
                return
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_worker_init
            )
            # One task per worker, submitted together: each submit finds no idle worker and
            # starts one, so every process exists before the first real evaluation.
            for future in [executor.submit(_ping) for _ in range(self.workers)]:
                future.result()
            self._executor = executor

    def close(self) -> None:
        """Blocking: stop the workers (queued evaluations are cancelled)."""
        with self._start_lock:
            executor, self._executor = self._executor, None
            self._warmed.clear()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def warm(self, rulesets: Sequence[RuleSet]) -> None:
        """Have the workers compile RULESETS now, not on the first request's deadline.

        One task per worker, not awaited: each takes as long as the compilation, so the
        tasks spread over the idle workers (likely, not certain: a worker that misses one
        compiles on first use, as it would anyway).
        """
        specs = [spec for spec in map(self.spec, rulesets) if spec.key not in self._warmed]
        executor = self._executor
        if not specs or executor is None:
            return
        self._warmed.update(spec.key for spec in specs)
        if len(self._warmed) > 4096:
            self._warmed = {spec.key for spec in specs}
        for _ in range(self.workers):
            executor.submit(warm_in_worker, specs)

    def spec(self, ruleset: RuleSet) -> RuleSetSpec:
        """The worker's view of RULESET (pickled and digested once per compiled rule set)."""
        known = self._specs.get(id(ruleset))
        if known is not None and known[0] is ruleset:
            return known[1]
        definition = pickle.dumps(
            (ruleset.name, ruleset.version, ruleset.rules, ruleset.on_error.value)
        )
        spec = RuleSetSpec(hashlib.sha256(definition).hexdigest(), definition)
        if len(self._specs) > 1024:
            self._specs.clear()
        self._specs[id(ruleset)] = (ruleset, spec)
        return spec

    async def decide(
        self, rulesets: Sequence[RuleSet], record: RequestRecord
    ) -> dict[int, Decision]:
        """Each rule set's decision on RECORD, keyed by id(ruleset), within the deadline."""
        specs = [self.spec(r) for r in rulesets]
        decisions = await self._run(decide_in_worker, specs, record)
        return {id(r): d for r, d in zip(rulesets, decisions, strict=True)}

    async def evaluate_all(self, ruleset: RuleSet, record: RequestRecord) -> Decision:
        """RuleSet.evaluate_all in a worker, within the deadline."""
        decision: Decision = await self._run(evaluate_all_in_worker, self.spec(ruleset), record)
        return decision

    async def traffic(
        self,
        experiments: Sequence[RunningExperiment],
        items: Sequence[TrafficRecord],
        client_bound: int,
        record_cost: int,
    ) -> tuple[list[dict[str, ExperimentTally]], list[float]]:
        """A traffic batch in chunks of about CHUNK_COST, one worker at a time per batch.

        Traffic takes at most workers - 1 workers (at least one), so that decisions always
        find one free; no deadline (the batch budget bounds the work).
        """
        specs = [
            ExperimentSpec(
                e.id,
                self.spec(e.control),
                self.spec(e.candidate),
                e.split,
                e.sticky_key,
                e.hash_seed,
            )
            for e in experiments
        ]
        size = max(1, CHUNK_COST // max(record_cost, 1))
        if self._traffic_slots is None:
            self._traffic_slots = asyncio.Semaphore(max(1, self.workers - 1))
        tallies: list[dict[str, ExperimentTally]] = []
        timings: list[float] = []
        for start in range(0, len(items), size):
            chunk = list(items[start : start + size])
            async with self._traffic_slots:
                part, took = await self._submit(traffic_in_worker, specs, chunk, client_bound)
            tallies.append(part)
            timings.extend(took)
        return tallies, timings

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._slots is None:
            self._slots = asyncio.Semaphore(4 * self.workers)
        try:
            async with asyncio.timeout(self.timeout):
                async with self._slots:
                    return await self._submit(fn, *args)
        except TimeoutError:
            raise EvaluationUnavailable(
                f"rule evaluation did not finish within {self.timeout:g} s "
                "(shadow.evaluation_timeout); the evaluation pool is saturated"
            ) from None

    async def _submit(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            await anyio.to_thread.run_sync(self.start)
        executor = self._executor
        assert executor is not None
        try:
            future: Future[Any] = executor.submit(fn, *args)
        except BrokenProcessPool:
            await self._restart(executor)
            raise EvaluationUnavailable("an evaluation worker died; the pool restarts") from None
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # still queued: never run it; running: it ends within its bound
            raise
        except BrokenProcessPool:
            await self._restart(executor)
            raise EvaluationUnavailable("an evaluation worker died; the pool restarts") from None

    async def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._start_lock:
            if self._executor is not broken:
                return
            self._executor = None
            self._warmed.clear()
        await anyio.to_thread.run_sync(lambda: broken.shutdown(wait=False, cancel_futures=True))
