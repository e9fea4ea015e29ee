"""Sharding's storage: the shard map and the transfers in the coordinator (main) database,
each shard's database (opened, migrated, stamped with the ring version it serves).

Blocking functions: call them through anyio.to_thread from async code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shieldx.config import Settings
from shieldx.credits.shards.domain import ShardMap, StaleRingVersion, Transfer, TransferState
from shieldx.credits.tables import shard_identity, shard_map, transfers
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext
from shieldx.platform.db import Database, create_database


class ShardMapConflict(Exception):
    """The configured shards differ from the map the coordinator database holds."""


def configured_map(settings: Settings) -> ShardMap:
    """The shard map the configuration describes (version 1 until stored)."""
    sharding = settings.sharding
    urls = {s.name: s.url.get_secret_value() if s.url else None for s in sharding.shards}
    names = sharding.shard_names()
    return ShardMap(1, tuple((n, urls.get(n)) for n in names), sharding.virtual_nodes)


def load_map(db: Database) -> ShardMap | None:
    """The newest stored shard map, or None if none was stored."""
    m = shard_map.c
    with db.read() as conn:
        version = conn.execute(sa.select(sa.func.max(m.version))).scalar()
        if version is None:
            return None
        rows = conn.execute(
            sa.select(m.name, m.url, m.virtual_nodes)
            .where(m.version == version)
            .order_by(m.position)
        ).all()
    return ShardMap(int(version), tuple((r.name, r.url) for r in rows), int(rows[0].virtual_nodes))


def ensure_map(db: Database, wanted: ShardMap, *, now_us: int) -> ShardMap:
    """The stored map; the configured one is stored as version 1 on the first start.

    A stored map that places accounts differently from the configuration is refused: moving
    accounts between shards is a rebalance, not a configuration edit.
    """
    stored = load_map(db)
    if stored is None:
        try:
            with db.write() as conn:
                conn.execute(
                    shard_map.insert(),
                    [
                        {
                            "version": wanted.version,
                            "position": i,
                            "name": name,
                            "url": url,
                            "virtual_nodes": wanted.virtual_nodes,
                            "created_at_us": now_us,
                        }
                        for i, (name, url) in enumerate(wanted.shards)
                    ],
                )
        except IntegrityError:
            pass  # another process stored it first: read theirs
        stored = load_map(db)
        assert stored is not None
    if not stored.same_layout(wanted):
        raise ShardMapConflict(
            f"the coordinator database holds shard map version {stored.version} "
            f"({', '.join(stored.names)}; {stored.virtual_nodes} virtual nodes) but the "
            f"configuration names {', '.join(wanted.names)} with {wanted.virtual_nodes}: "
            "accounts would land on the wrong shard. Restore the sharding settings; moving "
            "accounts to new shards (shieldx shards add/remove) is not built yet"
        )
    return dataclasses.replace(stored, shards=wanted.shards)  # URLs may change (new host)


def shard_database(settings: Settings, name: str, url: str | None) -> Database:
    """The database of shard NAME: URL, or the SQLite file credits-shard-NAME.db."""
    target = url or f"sqlite:///{settings.data_dir.resolve() / f'credits-shard-{name}.db'}"
    return create_database(settings, url=target)


def open_shard(ctx: PlatformContext, name: str, url: str | None, ring_version: int) -> Database:
    """Open, migrate and stamp shard NAME; refuse a database that is another shard's."""
    db = shard_database(ctx.settings, name, url)
    if not migrations.is_current(db):
        migrations.upgrade(db)
    stamp_identity(db, name, ring_version)
    return db


def stamp_identity(db: Database, name: str, ring_version: int) -> None:
    """Record that DB is shard NAME serving RING_VERSION (a database holds one shard)."""
    with db.write() as conn:
        rows = conn.execute(sa.select(shard_identity)).all()
        others = [r.name for r in rows if r.name != name]
        if others:
            raise ShardMapConflict(
                f"database {db.engine.url.render_as_string()} is shard {others[0]!r}, "
                f"not {name!r}: give each shard its own database"
            )
        if rows:
            conn.execute(
                shard_identity.update()
                .where(shard_identity.c.name == name)
                .values(ring_version=ring_version)
            )
        else:
            conn.execute(shard_identity.insert().values(name=name, ring_version=ring_version))


def check_identity(db: Database, name: str, ring_version: int) -> None:
    """Raise StaleRingVersion unless DB is shard NAME accepting writes at RING_VERSION."""
    with db.read() as conn:
        row = conn.execute(
            sa.select(shard_identity.c.ring_version).where(shard_identity.c.name == name)
        ).first()
    current = int(row[0]) if row is not None else -1
    if current != ring_version:
        raise StaleRingVersion(ring_version, current)


def shard_counts(db: Database) -> dict[str, int]:
    """Accounts and events held by one shard database."""
    with db.read() as conn:
        accounts = conn.execute(sa.text("SELECT count(*) FROM credit_balances_read_model"))
        n_accounts = int(accounts.scalar_one())
        events = conn.execute(sa.text("SELECT coalesce(max(position), 0) FROM event_store"))
        n_events = int(events.scalar_one())
    return {"accounts": n_accounts, "events": n_events}


# ------------------------------------------------------------------ transfers
def _transfer(row: Any) -> Transfer:
    return Transfer(
        transfer_id=row.transfer_id,
        tenant=row.tenant,
        from_account=row.from_account,
        to_account=row.to_account,
        amount=int(row.amount),
        reason=row.reason,
        state=row.state,
        created_us=int(row.created_at_us),
        hold_id=row.hold_id,
    )


def begin_transfer(
    db: Database, transfer: Transfer, *, key: str, request_hash: str
) -> tuple[Transfer, str, int | None, str | None]:
    """Record TRANSFER as started, or find the one recorded under the same key.

    Returns (transfer, request_hash it was recorded with, final status, final response).
    """
    t = transfers.c
    try:
        with db.write() as conn:
            conn.execute(
                transfers.insert().values(
                    transfer_id=transfer.transfer_id,
                    tenant=transfer.tenant,
                    idempotency_key=key,
                    request_hash=request_hash,
                    from_account=transfer.from_account,
                    to_account=transfer.to_account,
                    amount=transfer.amount,
                    reason=transfer.reason,
                    state=transfer.state,
                    created_at_us=transfer.created_us,
                    updated_at_us=transfer.created_us,
                )
            )
        return transfer, request_hash, None, None
    except IntegrityError:
        with db.read() as conn:
            row = conn.execute(
                sa.select(transfers).where(t.tenant == transfer.tenant, t.idempotency_key == key)
            ).one()
        return _transfer(row), row.request_hash, row.status, row.response


def record_state(
    db: Database,
    transfer: Transfer,
    state: TransferState,
    *,
    now_us: int,
    hold_id: str | None = None,
    status: int | None = None,
    response: str | None = None,
) -> Transfer:
    """Durably move TRANSFER to STATE (only from the state it is recorded in)."""
    moved = transfer.advance(state)
    t = transfers.c
    values: dict[str, Any] = {"state": state, "updated_at_us": now_us}
    if hold_id is not None:
        values["hold_id"] = hold_id
        moved = dataclasses.replace(moved, hold_id=hold_id)
    if status is not None:
        values["status"] = status
        values["response"] = response
    with db.write() as conn:
        changed = conn.execute(
            transfers.update()
            .where(t.transfer_id == transfer.transfer_id, t.state == transfer.state)
            .values(**values)
        ).rowcount
    if changed != 1:
        raise RuntimeError(f"transfer {transfer.transfer_id} is no longer {transfer.state}")
    return moved


def unfinished_transfers(db: Database) -> list[Transfer]:
    """Every transfer not yet done, oldest first."""
    t = transfers.c
    with db.read() as conn:
        rows = conn.execute(
            sa.select(transfers).where(t.state != "done").order_by(t.created_at_us)
        ).all()
    return [_transfer(r) for r in rows]


def load_transfer(db: Database, transfer_id: str) -> Transfer:
    """One transfer as recorded now."""
    with db.read() as conn:
        row = conn.execute(sa.select(transfers).where(transfers.c.transfer_id == transfer_id)).one()
    return _transfer(row)


def transfer_outcome(db: Database, transfer_id: str) -> tuple[str, int | None, str | None]:
    """(state, status, response) of one transfer."""
    t = transfers.c
    with db.read() as conn:
        row = conn.execute(
            sa.select(t.state, t.status, t.response).where(t.transfer_id == transfer_id)
        ).one()
    return row.state, row.status, row.response


def transfer_counts(db: Database) -> dict[str, int]:
    """How many transfers are in each state."""
    t = transfers.c
    with db.read() as conn:
        rows = conn.execute(sa.select(t.state, sa.func.count()).group_by(t.state)).all()
    return {str(r[0]): int(r[1]) for r in rows}


def ledger_databases(ctx: PlatformContext) -> list[tuple[str, Database]]:
    """Every database holding ledger events: ("main", ctx.db) when not sharded, else each
    shard's (opened and migrated; the caller disposes of them)."""
    configured = configured_map(ctx.settings)
    if len(configured.names) == 1:
        return [("main", ctx.db)]
    shard_map = load_map(ctx.db) or configured
    urls = dict(configured.shards)
    out: list[tuple[str, Database]] = []
    for name in shard_map.names:
        db = shard_database(ctx.settings, name, urls.get(name))
        if not migrations.is_current(db):
            migrations.upgrade(db)
        out.append((name, db))
    return out
