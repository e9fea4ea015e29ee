"""The credits application layer: commands with idempotency, hold lookup, payments, alerts setup.

Routes call these keyword-only functions; they build domain commands, submit them to the
group-commit writer and return the committed answer (or raise a LedgerError / Problem).
Reads live in projections/queries.py. `start` starts the writer (and its commit process); the
sweeper and webhook delivery are started by component.py.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio.to_thread
import orjson
import structlog

from shieldx.credits.ledger.commands import (
    CancelHold,
    Command,
    CommandLimits,
    CommitHold,
    Consume,
    OpenAccount,
    Purchase,
    Reserve,
    SetThreshold,
    duration_us,
)
from shieldx.credits.ledger.errors import HoldNotFound
from shieldx.credits.ledger.ids import new_id, now_us
from shieldx.credits.projections.runner import ProjectionStatus
from shieldx.credits.settings import CreditsSettings
from shieldx.credits.store.backends import create_store
from shieldx.credits.store.base import EventStore
from shieldx.credits.store.records import AccountKey
from shieldx.credits.writer.group_commit import GroupCommitWriter
from shieldx.credits.writer.plans import PlanBuilder
from shieldx.credits.writer.submissions import Accepted, Work
from shieldx.credits.writer.work_units import BatchRefused, LinkedBatch, SingleCommand
from shieldx.platform.context import PlatformContext
from shieldx.platform.crypto import Keyring
from shieldx.platform.tracing import span

log = structlog.get_logger("shieldx.credits")


def fingerprint(op: str, tenant: str, payload: Mapping[str, Any]) -> str:
    """SHA-256 of a request's meaning (operation, tenant, canonical body), for idempotency."""
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{op}\n{tenant}\n".encode() + body).hexdigest()


@dataclass(frozen=True)
class Idempotency:
    """The caller's Idempotency-Key and the fingerprint of the request it came with."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class Payment:
    """Payment details of a purchase; only provider, reference and last4 are ever shown."""

    provider: str
    reference: str
    card_last4: str | None = None
    card_token: str | None = None

    def public(self) -> dict[str, Any]:
        """What may be returned and logged."""
        return {
            "provider": self.provider,
            "reference": self.reference,
            "card_last4": self.card_last4,
        }


class CreditsService:
    """Commands on the ledger of one database (one writer per process and database)."""

    def __init__(
        self,
        ctx: PlatformContext,
        *,
        clock: Callable[[], int] = now_us,
        store: EventStore | None = None,
    ) -> None:
        self.ctx = ctx
        self.settings: CreditsSettings = ctx.settings.credits
        self.keyring: Keyring = ctx.keyring
        self.clock = clock
        self.store = store or create_store(ctx.db)
        self.limits = CommandLimits(self.settings.max_hold_ttl // timedelta(microseconds=1))
        self.projections = ProjectionStatus(lambda: self.writer.committer.request_projection())
        commit_config = {
            **self.store.commit_config(),
            "project_interval": self.settings.projection_interval.total_seconds(),
            "project_chunk": self.settings.projection_chunk,
        }
        self.writer = GroupCommitWriter(
            self.store,
            snapshot_interval=ctx.settings.event_sourcing.snapshot_interval,
            max_batch=self.settings.max_batch,
            pipeline_depth=self.settings.pipeline_depth,
            cache_size=self.settings.account_cache_size,
            command_cache_size=self.settings.idempotency_cache_size,
            queue_limit=self.settings.queue_limit,
            max_retries=self.settings.commit_retries,
            clock=clock,
            seal=self._seal,
            unseal=self._unseal,
            commit_config=commit_config,
            commit_process=self.settings.commit_process,
            projected=self.projections.update,
        )

    async def start(self) -> None:
        """Start the writer (and with it the commit process)."""
        await self.writer.start()

    async def stop(self) -> None:
        """Drain the writer and stop the commit process."""
        await self.writer.stop()

    # ------------------------------------------------------------------ commands
    async def open_account(
        self, *, tenant: str, account_id: str, metadata: Mapping[str, str], idem: Idempotency
    ) -> Accepted:
        """Create an account explicitly (409 account-exists if it is there already)."""
        return await self._submit(SingleCommand((tenant, account_id), OpenAccount(metadata)), idem)

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
        """Add a grant; payment details are sealed (AES-256-GCM) and only summarised."""
        tx = new_id("tx")
        command = Purchase(amount, grant_type, priority, expires_at, new_id("gr"), tx)
        extra = {"payment": payment.public()} if payment is not None else {}
        side_rows = None
        if payment is not None:
            sealed = self.keyring.encrypt(
                orjson.dumps(vars(payment)), context=f"credits.payment:{account_id}"
            )
            key_id = self.keyring.key_id_of(sealed)

            def side_rows(builder: PlanBuilder) -> None:
                builder.plan.payments.append(
                    (
                        tx,
                        tenant,
                        account_id,
                        payment.provider,
                        payment.reference,
                        payment.card_last4,
                        sealed,
                        key_id,
                        builder.now,
                    )
                )

        # The answer repeats the payment reference (which may hold a card number): the
        # command log keeps it sealed, like the payment details themselves.
        work = SingleCommand(
            (tenant, account_id), command, extra_body=extra, sensitive=payment is not None
        )
        accepted = await self._submit(work, idem, side_rows)
        if payment is not None and not accepted.replayed:
            log.info("credits.purchase", tenant=tenant, account_id=account_id, **payment.public())
        return accepted

    async def consume(
        self, *, tenant: str, account_id: str, amount: int, reason: str, idem: Idempotency
    ) -> Accepted:
        """Use credits now (409 insufficient-credits if available is short)."""
        command = Consume(amount, reason, new_id("tx"))
        return await self._submit(SingleCommand((tenant, account_id), command), idem)

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
        """Put AMOUNT on hold for TTL_SECONDS."""
        ttl = duration_us(ttl_seconds, "ttl_seconds")
        command = Reserve(amount, ttl, reason, new_id("rsv"), new_id("tx"))
        return await self._submit(SingleCommand((tenant, account_id), command), idem)

    async def commit(
        self, *, tenant: str | None, reservation_id: str, amount: int | None, idem: Idempotency
    ) -> Accepted:
        """Post all or part of a hold and release the rest."""
        key = await self.locate_hold(reservation_id, tenant)
        command = CommitHold(reservation_id, amount, new_id("tx"))
        return await self._submit(SingleCommand(key, command), idem)

    async def cancel(
        self, *, tenant: str | None, reservation_id: str, idem: Idempotency
    ) -> Accepted:
        """Release a hold."""
        key = await self.locate_hold(reservation_id, tenant)
        command = CancelHold(reservation_id, new_id("tx"))
        return await self._submit(SingleCommand(key, command), idem)

    async def set_threshold(
        self,
        *,
        tenant: str,
        account_id: str,
        threshold: int,
        webhook_url: str | None,
        idem: Idempotency,
    ) -> Accepted:
        """Alert when available falls below THRESHOLD; a webhook gets a fresh signing secret."""
        secret = f"whsec_{secrets.token_urlsafe(32)}" if webhook_url else None
        sealed = (
            self.keyring.encrypt(secret.encode(), context=_secret_context(tenant, account_id))
            if secret
            else None
        )

        def side_rows(builder: PlanBuilder) -> None:
            builder.plan.thresholds.append(
                (tenant, account_id, threshold, webhook_url, sealed, builder.now)
            )

        work = SingleCommand(
            (tenant, account_id),
            SetThreshold(threshold, webhook_url),
            extra_body={"webhook_secret": secret} if secret else {},
            sensitive=secret is not None,
        )
        return await self._submit(work, idem, side_rows)

    async def batch(
        self,
        *,
        operations: list[tuple[AccountKey | str, Command]],
        atomic: bool,
        tenant: str | None,
        idem: Idempotency,
    ) -> Accepted:
        """Several operations, linked: all recorded or (atomic) none. A str key is a hold id."""
        resolved: list[tuple[AccountKey, Command]] = []
        for target, command in operations:
            key = await self.locate_hold(target, tenant) if isinstance(target, str) else target
            resolved.append((key, command))
        return await self._submit(LinkedBatch(resolved, atomic=atomic), idem)

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
        """Move AMOUNT between two accounts of TENANT in one commit (a linked batch)."""
        tx = new_id("tx")
        operations: list[tuple[AccountKey, Command]] = [
            ((tenant, from_account), Consume(amount, reason, tx)),
            ((tenant, to_account), Purchase(amount, TRANSFER_GRANT, 100, None, new_id("gr"), tx)),
        ]
        try:
            accepted = await self._submit(LinkedBatch(operations, op="transfer"), idem)
        except BatchRefused as exc:
            raise exc.error from exc  # the transfer is one operation: its own refusal
        results = orjson.loads(accepted.body)["results"]
        # The stored answer's transaction id: a replay returns the first attempt's.
        transfer_id = results[0]["transaction_id"]
        body = transfer_body(
            transfer_id, amount, (from_account, results[0]), (to_account, results[1])
        )
        return Accepted(200, body, accepted.replayed)

    # ------------------------------------------------------------------ routing hooks
    def shard_for(self, tenant: str, account_id: str) -> CreditsService:
        """The service holding (TENANT, ACCOUNT_ID): this one (a sharded front overrides it)."""
        return self

    def shard_services(self) -> dict[str, CreditsService]:
        """Every database's service by shard name: just this one when not sharded."""
        return {"main": self}

    async def locate_hold(self, hold_id: str, tenant: str | None) -> AccountKey:
        """The account of a hold, from the writer's memory or the holds table."""
        known = self.writer.holds.get(hold_id)
        if known is None:
            found = await anyio.to_thread.run_sync(self.store.find_holds, [hold_id])
            known = found.get(hold_id)
            if known is not None:
                self.writer.holds.setdefault(hold_id, known)
        if known is None or (tenant is not None and known[0] != tenant):
            raise HoldNotFound(hold_id)  # another tenant's hold does not exist for this caller
        return known[0], known[1]

    async def _submit(
        self,
        work: Work,
        idem: Idempotency | None,
        side_rows: Callable[[PlanBuilder], None] | None = None,
    ) -> Accepted:
        # The one place every limit is checked, for single operations and batches alike:
        # what reaches the writer can be applied (see CommandLimits).
        check = self.limits.check
        for command in work.commands:
            check(command)
        with span("credits.commit", commands=len(work.commands)):
            if idem is None:
                return await self.writer.submit(work, side_rows=side_rows)
            return await self.writer.submit(
                work,
                idempotency=(work.keys[0][0], idem.key),
                request_hash=idem.request_hash,
                side_rows=side_rows,
            )

    # ------------------------------------------------------------------ sealing
    def _seal(self, tenant: str, body: bytes) -> str:
        return self.keyring.encrypt(body, context=f"credits.command_log:{tenant}")

    def _unseal(self, tenant: str, stored: str) -> bytes:
        if stored.startswith("{"):
            return stored.encode()
        return self.keyring.decrypt(stored, context=f"credits.command_log:{tenant}")

    def webhook_secret(self, tenant: str, account_id: str, sealed: str) -> bytes:
        """Open a stored webhook signing secret."""
        return self.keyring.decrypt(sealed, context=_secret_context(tenant, account_id))


TRANSFER_GRANT = "transfer"  # the grant type of credits received by a transfer


def transfer_body(
    transfer_id: str,
    amount: int,
    source: tuple[str, Mapping[str, Any]],
    target: tuple[str, Mapping[str, Any]],
) -> bytes:
    """200 body of a transfer: both accounts' new balance and available."""
    sides = {
        side: {"account_id": account, "balance": r["balance"], "available": r["available"]}
        for side, (account, r) in (("from", source), ("to", target))
    }
    return orjson.dumps({"transfer_id": transfer_id, "amount": amount, **sides})


def _secret_context(tenant: str, account_id: str) -> str:
    return f"credits.webhook:{tenant}/{account_id}"
