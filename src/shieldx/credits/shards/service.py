"""The sharded front: the credits service's interface, each command routed to its account's
shard (a full CreditsService with its own database and writer), and the coordinator of
cross-shard transfers (two-phase commit on durable holds, re-driven by recovery).

Only built when more than one shard is configured: with one, the component serves the plain
CreditsService and nothing here is on the path.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import anyio.to_thread
import orjson
import structlog
from prometheus_client import CollectorRegistry

from shieldx.credits.ledger.commands import Command, CommandLimits
from shieldx.credits.ledger.errors import (
    AccountNotFound,
    CrossShardBatch,
    HoldNotActive,
    HoldNotFound,
    InsufficientCredits,
    LedgerError,
)
from shieldx.credits.ledger.ids import new_id, now_us
from shieldx.credits.ledger.service import (
    TRANSFER_GRANT,
    CreditsService,
    Idempotency,
    Payment,
    fingerprint,
    transfer_body,
)
from shieldx.credits.shards import store
from shieldx.credits.shards.domain import ShardMap, StaleRingVersion, Transfer
from shieldx.credits.shards.metrics import ShardMetrics
from shieldx.credits.store.records import AccountKey
from shieldx.credits.writer.submissions import Accepted, IdempotencyMismatch, WriterUnavailable
from shieldx.platform.context import PlatformContext
from shieldx.platform.errors import Problem

log = structlog.get_logger("shieldx.credits.shards")

#: Steps of the transfer protocol a test may crash the process at (SHIELDX_TEST_CRASH_AT).
CRASH_STEPS = ("started", "held", "prepared", "committed", "debited", "credited")


def crash_point(step: str) -> None:
    """Kill this process at STEP when a crash test asks for it (only with SHIELDX_TESTING=1)."""
    if os.environ.get("SHIELDX_TESTING") == "1" and os.environ.get("SHIELDX_TEST_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


class ShardedCreditsService(CreditsService):
    """CreditsService's interface over several shards.

    It shares the interface (routes and background work need not know about shards) but not
    the state: CreditsService.__init__ is deliberately not called, the front has no writer or
    store of its own; every read and write goes through `shard_for` / `shard_services`.
    """

    def __init__(
        self,
        ctx: PlatformContext,
        *,
        shards: Mapping[str, CreditsService],
        shard_map: ShardMap,
        metrics: ShardMetrics,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.credits
        self.keyring = ctx.keyring
        self.clock = clock
        self.limits = CommandLimits(self.settings.max_hold_ttl // timedelta(microseconds=1))
        self.shards = dict(shards)
        self.shard_map = shard_map
        self.ring = shard_map.ring()
        self.metrics = metrics
        metrics.ring_version.set(shard_map.version)
        # Set when the stored map moved to a layout this process does not route by.
        self.stale: StaleRingVersion | None = None
        self.transfers = TransferCoordinator(self)

    # ------------------------------------------------------------------ routing
    def shard_for(self, tenant: str, account_id: str) -> CreditsService:
        """The shard service owning (TENANT, ACCOUNT_ID) on the ring."""
        name = self._route(tenant, account_id)
        self.metrics.operations.labels(name).inc()
        return self.shards[name]

    def _route(self, tenant: str, account_id: str) -> str:
        """The account's shard on the current ring; refused while the ring is stale."""
        if self.stale is not None:
            raise Problem(
                503,
                f"{self.stale}: this process no longer routes by the stored shard map and "
                "refuses rather than apply anything on the wrong shard; restart it",
                type="ledger-unavailable",
                headers={"Retry-After": "1"},
            )
        return self.ring.shard_of(tenant, account_id)

    async def check_map(self) -> None:
        """Compare the stored shard map with the one this process routes by."""
        stored = await anyio.to_thread.run_sync(store.load_map, self.ctx.db)
        if stored is None or stored.version == self.shard_map.version:
            return
        if stored.same_layout(self.shard_map):  # same placement: adopt the new version
            self.shard_map = dataclasses.replace(stored, shards=self.shard_map.shards)
            self.metrics.ring_version.set(stored.version)
            return
        if self.stale is None:
            log.warning(
                "credits.shard_map_moved", routed=self.shard_map.version, stored=stored.version
            )
        self.stale = StaleRingVersion(self.shard_map.version, stored.version)

    def shard_services(self) -> dict[str, CreditsService]:
        """Every shard's service, by name, in map order."""
        return self.shards

    async def start(self) -> None:
        """Start every shard's writer, then recover unfinished transfers and keep doing so."""
        for shard in self.shards.values():
            await shard.start()
        await self.transfers.start()

    async def stop(self) -> None:
        """Stop recovery, then drain every shard's writer."""
        await self.transfers.stop()
        for shard in self.shards.values():
            await shard.stop()
            shard.ctx.db.dispose()

    # ------------------------------------------------------------------ commands
    async def open_account(
        self, *, tenant: str, account_id: str, metadata: Mapping[str, str], idem: Idempotency
    ) -> Accepted:
        """Open the account on its shard."""
        shard = self.shard_for(tenant, account_id)
        return await shard.open_account(
            tenant=tenant, account_id=account_id, metadata=metadata, idem=idem
        )

    async def purchase(
        self,
        *,
        tenant: str,
        account_id: str,
        amount: int,
        grant_type: str,
        priority: int,
        expires_at: int | None,
        payment: Payment | None,
        idem: Idempotency,
    ) -> Accepted:
        """Buy credits on the account's shard."""
        return await self.shard_for(tenant, account_id).purchase(
            tenant=tenant,
            account_id=account_id,
            amount=amount,
            grant_type=grant_type,
            priority=priority,
            expires_at=expires_at,
            payment=payment,
            idem=idem,
        )

    async def consume(
        self, *, tenant: str, account_id: str, amount: int, reason: str, idem: Idempotency
    ) -> Accepted:
        """Use credits on the account's shard."""
        return await self.shard_for(tenant, account_id).consume(
            tenant=tenant, account_id=account_id, amount=amount, reason=reason, idem=idem
        )

    async def reserve(
        self,
        *,
        tenant: str,
        account_id: str,
        amount: int,
        ttl_seconds: float,
        reason: str,
        idem: Idempotency,
    ) -> Accepted:
        """Hold credits on the account's shard."""
        return await self.shard_for(tenant, account_id).reserve(
            tenant=tenant,
            account_id=account_id,
            amount=amount,
            ttl_seconds=ttl_seconds,
            reason=reason,
            idem=idem,
        )

    async def commit(
        self, *, tenant: str | None, reservation_id: str, amount: int | None, idem: Idempotency
    ) -> Accepted:
        """Commit a hold on the shard that holds it."""
        shard = await self._hold_shard(reservation_id, tenant)
        return await shard.commit(
            tenant=tenant, reservation_id=reservation_id, amount=amount, idem=idem
        )

    async def cancel(
        self, *, tenant: str | None, reservation_id: str, idem: Idempotency
    ) -> Accepted:
        """Cancel a hold on the shard that holds it."""
        shard = await self._hold_shard(reservation_id, tenant)
        return await shard.cancel(tenant=tenant, reservation_id=reservation_id, idem=idem)

    async def set_threshold(
        self,
        *,
        tenant: str,
        account_id: str,
        threshold: int,
        webhook_url: str | None,
        idem: Idempotency,
    ) -> Accepted:
        """Set the alert threshold on the account's shard."""
        return await self.shard_for(tenant, account_id).set_threshold(
            tenant=tenant,
            account_id=account_id,
            threshold=threshold,
            webhook_url=webhook_url,
            idem=idem,
        )

    async def batch(
        self,
        *,
        operations: list[tuple[AccountKey | str, Command]],
        atomic: bool,
        tenant: str | None,
        idem: Idempotency,
    ) -> Accepted:
        """A batch whose accounts all live on one shard, run there."""
        names: set[str] = set()
        for target, _ in operations:
            if isinstance(target, str):
                names.add(self._name_of(await self._hold_shard(target, tenant)))
            else:
                names.add(self._route(*target))
        if len(names) > 1:
            raise CrossShardBatch(sorted(names))
        shard = self.shards[names.pop()]
        self.metrics.operations.labels(self._name_of(shard)).inc()
        return await shard.batch(operations=operations, atomic=atomic, tenant=tenant, idem=idem)

    async def transfer(
        self,
        *,
        tenant: str,
        from_account: str,
        to_account: str,
        amount: int,
        reason: str,
        idem: Idempotency,
    ) -> Accepted:
        """One commit when both accounts share a shard; else the two-phase protocol."""
        source = self._route(tenant, from_account)
        target = self._route(tenant, to_account)
        if source == target:
            self.metrics.operations.labels(source).inc()
            return await self.shards[source].transfer(
                tenant=tenant,
                from_account=from_account,
                to_account=to_account,
                amount=amount,
                reason=reason,
                idem=idem,
            )
        self.metrics.operations.labels(source).inc()
        self.metrics.operations.labels(target).inc()
        return await self.transfers.run(
            tenant=tenant,
            from_account=from_account,
            to_account=to_account,
            amount=amount,
            reason=reason,
            idem=idem,
        )

    async def locate_hold(self, hold_id: str, tenant: str | None) -> AccountKey:
        """The account of a hold, on whichever shard holds it."""
        shard = await self._hold_shard(hold_id, tenant)
        return await shard.locate_hold(hold_id, tenant)

    async def _hold_shard(self, hold_id: str, tenant: str | None) -> CreditsService:
        for shard in self.shards.values():
            with contextlib.suppress(HoldNotFound):
                await shard.locate_hold(hold_id, tenant)
                return shard
        raise HoldNotFound(hold_id)

    def _name_of(self, service: CreditsService) -> str:
        return next(name for name, s in self.shards.items() if s is service)


class TransferCoordinator:
    """Runs cross-shard transfers and recovers the unfinished ones (see shards/domain.py)."""

    def __init__(self, front: ShardedCreditsService) -> None:
        self.front = front
        self.db = front.ctx.db  # the coordinator database
        sharding = front.ctx.settings.sharding
        self.timeout_us = int(sharding.transfer_timeout.total_seconds() * 1_000_000)
        self.interval = sharding.recovery_interval.total_seconds()
        # Long: a decided transfer must find its hold still active; recovery, not expiry, bounds
        # how long an undecided one holds credits.
        self.hold_ttl = max(1.0, front.settings.max_hold_ttl.total_seconds() - 1)
        self._driving: dict[str, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Recover what a previous process left unfinished, then keep recovering."""
        await self.recover(startup=True)
        self._task = asyncio.create_task(self._recovery_loop(), name="credits-transfer-recovery")

    async def stop(self) -> None:
        """Stop the recovery loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(
        self,
        *,
        tenant: str,
        from_account: str,
        to_account: str,
        amount: int,
        reason: str,
        idem: Idempotency,
    ) -> Accepted:
        """Record the transfer, drive it to its end, answer (or replay) the outcome."""
        fresh = Transfer(
            new_id("tr"), tenant, from_account, to_account, amount, reason, "started", self._now()
        )
        transfer, recorded_hash, status, response = await anyio.to_thread.run_sync(
            lambda: store.begin_transfer(
                self.db, fresh, key=idem.key, request_hash=idem.request_hash
            )
        )
        if recorded_hash != idem.request_hash:
            raise IdempotencyMismatch()
        replayed = transfer.transfer_id != fresh.transfer_id
        if status is None:
            crash_point("started")
            await self.drive(transfer, owner=True, reload=replayed)
            _, status, response = await anyio.to_thread.run_sync(
                store.transfer_outcome, self.db, transfer.transfer_id
            )
        if status is None or response is None:
            raise WriterUnavailable(f"transfer {transfer.transfer_id} is still being recovered")
        return _answer(status, response, replayed=replayed)

    async def drive(
        self,
        transfer: Transfer,
        *,
        owner: bool = False,
        abort: bool = False,
        reload: bool = True,
    ) -> None:
        """Move TRANSFER on from its recorded state to done (each step idempotent); ABORT an
        undecided one instead of preparing or deciding it; RELOAD its state first (the caller's
        copy may be stale: another driver may have moved it on)."""
        lock = self._driving.setdefault(transfer.transfer_id, asyncio.Lock())
        if lock.locked() and not owner:
            return  # its request is driving it right now
        async with lock:
            try:
                if reload:
                    transfer = await anyio.to_thread.run_sync(
                        store.load_transfer, self.db, transfer.transfer_id
                    )
                    if transfer.state == "done":
                        return
                if abort and transfer.state in ("started", "prepared"):
                    transfer = await self._record(transfer, "aborted")
                await self._drive(transfer)
            finally:
                self._driving.pop(transfer.transfer_id, None)

    async def _drive(self, t: Transfer) -> None:
        source = self.front.shards[self.front.ring.shard_of(t.tenant, t.from_account)]
        target = self.front.shards[self.front.ring.shard_of(t.tenant, t.to_account)]
        if t.state == "started":
            try:
                held = await source.reserve(
                    tenant=t.tenant,
                    account_id=t.from_account,
                    amount=t.amount,
                    ttl_seconds=self.hold_ttl,
                    reason=_reason(t),
                    idem=_key(t, t.hold_key, "hold"),
                )
            except LedgerError as exc:  # insufficient credits, no such account: nothing held
                await self._finish(t, "aborted", _refusal(exc))
                return
            crash_point("held")
            hold_id = orjson.loads(held.body)["reservation_id"]
            t = await self._record(t, "prepared", hold_id=hold_id)
            crash_point("prepared")
            t = await self._record(t, "committed")
            crash_point("committed")
        if t.state == "prepared":  # in doubt after a crash: no decision was recorded
            t = await self._record(t, "aborted")
        if t.state == "committed":
            await self._commit(t, source, target)
        elif t.state == "aborted":
            await self._release(t, source)

    async def _commit(self, t: Transfer, source: CreditsService, target: CreditsService) -> None:
        assert t.hold_id is not None
        debit = await source.commit(
            tenant=t.tenant,
            reservation_id=t.hold_id,
            amount=None,
            idem=_key(t, t.debit_key, "debit"),
        )
        crash_point("debited")
        credit = await target.purchase(
            tenant=t.tenant,
            account_id=t.to_account,
            amount=t.amount,
            grant_type=TRANSFER_GRANT,
            priority=100,
            expires_at=None,
            payment=None,
            idem=_key(t, t.credit_key, "credit"),
        )
        crash_point("credited")
        body = transfer_body(
            t.transfer_id,
            t.amount,
            (t.from_account, orjson.loads(debit.body)),
            (t.to_account, orjson.loads(credit.body)),
        )
        await self._finish(t, "done", (200, body.decode()))
        self.front.metrics.transfers.labels("committed").inc()

    async def _release(self, t: Transfer, source: CreditsService) -> None:
        """Abort: release the hold if one was placed (a crash may have left one unrecorded)."""
        hold_id = t.hold_id
        if hold_id is None:
            # The prepare may have been applied before the crash: its key replays its hold.
            with contextlib.suppress(LedgerError):
                held = await source.reserve(
                    tenant=t.tenant,
                    account_id=t.from_account,
                    amount=t.amount,
                    ttl_seconds=self.hold_ttl,
                    reason=_reason(t),
                    idem=_key(t, t.hold_key, "hold"),
                )
                hold_id = orjson.loads(held.body)["reservation_id"]
        if hold_id is not None:
            with contextlib.suppress(HoldNotActive):
                await source.cancel(
                    tenant=t.tenant, reservation_id=hold_id, idem=_key(t, t.release_key, "release")
                )
        problem = Problem(
            409,
            f"transfer {t.transfer_id} was aborted before it was decided (a crash or timeout);"
            " nothing was moved: retry with a new Idempotency-Key",
            type="transfer-aborted",
        )
        await self._finish(t, "done", _problem_response(problem))
        self.front.metrics.transfers.labels("aborted").inc()

    async def _finish(self, t: Transfer, state: str, outcome: tuple[int, str]) -> None:
        status, response = outcome
        if state == "aborted":  # refused at prepare: decided and done at once
            t = await self._record(t, "aborted")
            self.front.metrics.transfers.labels("aborted").inc()
        await self._record(t, "done", status=status, response=response)

    async def _record(self, t: Transfer, state: Any, **values: Any) -> Transfer:
        now = self._now()
        return await anyio.to_thread.run_sync(
            lambda: store.record_state(self.db, t, state, now_us=now, **values)
        )

    async def recover(self, *, startup: bool = False) -> int:
        """Drive every unfinished transfer that no request is driving; how many were found."""
        if self.front.stale is not None:
            return 0  # its shards are no longer where this process's ring says
        pending = await anyio.to_thread.run_sync(store.unfinished_transfers, self.db)
        self.front.metrics.in_doubt.set(len(pending))
        now = self._now()
        for t in pending:
            if t.transfer_id in self._driving:
                continue  # its request is driving it
            # At start-up no request of this process is driving anything: decide at once.
            action = t.recovery_action(now_us=now, timeout_us=0 if startup else self.timeout_us)
            if action is None:
                continue
            log.info("credits.transfer_recovery", transfer_id=t.transfer_id, state=t.state)
            try:
                await self.drive(t, abort=action == "abort")
            except (LedgerError, WriterUnavailable, RuntimeError) as exc:
                log.warning(
                    "credits.transfer_recovery_failed", transfer_id=t.transfer_id, error=str(exc)
                )
        return len(pending)

    async def _recovery_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.front.check_map()
                await self.recover()
            except Exception as exc:  # keep recovering: a shard may be down for a while
                log.warning("credits.transfer_recovery_error", error=str(exc))

    def _now(self) -> int:
        return self.front.clock()


def _reason(t: Transfer) -> str:
    return f"transfer {t.transfer_id}: {t.reason}"[:200]


def _key(t: Transfer, key: str, step: str) -> Idempotency:
    """The idempotency of one protocol step (same key and meaning every time it is driven)."""
    payload = {"transfer_id": t.transfer_id, "amount": t.amount}
    return Idempotency(key, fingerprint(f"transfer-{step}", t.tenant, payload))


def _refusal(exc: LedgerError) -> tuple[int, str]:
    """The stored outcome of a prepare the source refused (replayed as the same refusal)."""
    data: dict[str, Any] = {"status": 409, "detail": str(exc), "type": exc.slug}
    if isinstance(exc, InsufficientCredits):
        data.update(available=exc.available, requested=exc.requested)
    return 409 if not isinstance(exc, HoldNotFound | AccountNotFound) else 404, orjson.dumps(
        data
    ).decode()


def _problem_response(problem: Problem) -> tuple[int, str]:
    body = {"status": problem.status, "detail": problem.detail, "type": problem.type}
    return problem.status, orjson.dumps({**body, **problem.extensions}).decode()


def _answer(status: int, response: str, *, replayed: bool) -> Accepted:
    if status >= 400:
        data = orjson.loads(response)
        if data["type"] == InsufficientCredits.slug:
            raise InsufficientCredits(available=data["available"], requested=data["requested"])
        extensions = {k: v for k, v in data.items() if k not in {"status", "detail", "type"}}
        raise Problem(status, data["detail"], type=data["type"], **extensions)
    return Accepted(status, response.encode(), replayed)


def open_front(
    ctx: PlatformContext, registry: CollectorRegistry, *, clock: Callable[[], int] = now_us
) -> ShardedCreditsService:
    """Load (or store) the shard map, open and migrate each shard, build the front over them."""
    shard_map = store.ensure_map(ctx.db, store.configured_map(ctx.settings), now_us=clock())
    services: dict[str, CreditsService] = {}
    for name, url in shard_map.shards:
        db = store.open_shard(ctx, name, url, shard_map.version)
        services[name] = CreditsService(dataclasses.replace(ctx, db=db), clock=clock)
    return ShardedCreditsService(
        ctx, shards=services, shard_map=shard_map, metrics=ShardMetrics(registry), clock=clock
    )
