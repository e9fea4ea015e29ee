"""The SQL the event store runs (shared by both backends; '?' placeholders) and its helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from shieldx.credits import chain
from shieldx.credits.records import AccountKey, Plan, Row

CHUNK = 400  # keys per IN (...) lookup
BULK_ROWS = 64  # rows per multi-row INSERT

INSERT_EVENT = (
    "INSERT INTO event_store (position, tenant, account_id, version, type, amount, data, at_us,"
    " idempotency_key, hash) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
INSERT_COMMAND = (
    "INSERT INTO command_log (tenant, idempotency_key, request_hash, op, status, response,"
    " created_at_us) VALUES (?,?,?,?,?,?,?)"
)
UPSERT_BALANCE = (
    "INSERT INTO credit_balances_read_model (tenant, account_id, balance, held, available,"
    " version, last_position, updated_at_us) VALUES (?,?,?,?,?,?,?,?)"
    " ON CONFLICT (tenant, account_id) DO UPDATE SET balance = excluded.balance,"
    " held = excluded.held, available = excluded.available, version = excluded.version,"
    " last_position = excluded.last_position, updated_at_us = excluded.updated_at_us"
)
INSERT_HOLD = (
    "INSERT INTO credit_holds (hold_id, tenant, account_id, amount, reason, created_at_us,"
    " expires_at_us, state) VALUES (?,?,?,?,?,?,?,'active')"
)
# A batched UPDATE: the hold row always exists, so only the DO UPDATE part ever applies
# (one statement for the whole batch instead of one per hold).
RESOLVE_HOLD = (
    "INSERT INTO credit_holds (hold_id, tenant, account_id, amount, reason, created_at_us,"
    " expires_at_us, state, resolved_at_us, committed, released, expired)"
    " VALUES (?,'','',0,'',0,0,?,?,?,?,?) ON CONFLICT (hold_id) DO UPDATE SET"
    " state = excluded.state, resolved_at_us = excluded.resolved_at_us,"
    " committed = excluded.committed, released = excluded.released, expired = excluded.expired"
)
INSERT_GRANT = (
    "INSERT INTO credit_grants (grant_id, tenant, account_id, kind, priority, amount,"
    " created_at_us, expires_at_us) VALUES (?,?,?,?,?,?,?,?)"
)
UPDATE_GRANT = "UPDATE credit_grants SET expired_at_us = ?, expired_amount = ? WHERE grant_id = ?"
INSERT_SNAPSHOT = (
    "INSERT INTO aggregate_snapshots (tenant, account_id, version, position, at_us, state)"
    " VALUES (?,?,?,?,?,?) ON CONFLICT (tenant, account_id, version) DO NOTHING"
)
UPSERT_THRESHOLD = (
    "INSERT INTO credit_thresholds (tenant, account_id, threshold, webhook_url, webhook_secret,"
    " updated_at_us) VALUES (?,?,?,?,?,?) ON CONFLICT (tenant, account_id) DO UPDATE SET"
    " threshold = excluded.threshold, webhook_url = excluded.webhook_url,"
    " webhook_secret = excluded.webhook_secret, updated_at_us = excluded.updated_at_us"
)
INSERT_ALERT = (
    "INSERT INTO credit_alerts (alert_id, tenant, account_id, threshold, available, position,"
    " at_us, webhook_url, delivery, attempts, next_attempt_at_us) VALUES (?,?,?,?,?,?,?,?,?,0,?)"
)
INSERT_PAYMENT = (
    "INSERT INTO credit_payments (transaction_id, tenant, account_id, provider, reference,"
    " card_last4, details, key_id, created_at_us) VALUES (?,?,?,?,?,?,?,?,?)"
)
SELECT_HEAD = "SELECT position, hash FROM credits_chain_head WHERE id = 1"
ADVANCE_HEAD = "UPDATE credits_chain_head SET position = ?, hash = ? WHERE id = 1 AND position = ?"
SET_HEAD = "UPDATE credits_chain_head SET position = ?, hash = ? WHERE id = 1"
CHANGED_SINCE = "SELECT DISTINCT tenant, account_id FROM event_store WHERE position > ?"
# ":in" becomes one placeholder per key (see expand).
LATEST_SNAPSHOTS = (
    "SELECT s.account_id, s.version, s.state FROM aggregate_snapshots s"
    " JOIN (SELECT account_id, MAX(version) AS version FROM aggregate_snapshots"
    " WHERE tenant = ? AND account_id IN (:in) GROUP BY account_id) m"
    " ON s.account_id = m.account_id AND s.version = m.version WHERE s.tenant = ?"
)
FIND_COMMANDS = (
    "SELECT idempotency_key, request_hash, op, status, response FROM command_log"
    " WHERE tenant = ? AND idempotency_key IN (:in)"
)
TRACKING = "SELECT name, position FROM projection_tracking WHERE name IN (:in)"
FIND_HOLDS = "SELECT hold_id, tenant, account_id, state FROM credit_holds WHERE hold_id IN (:in)"


def chain_rows(plan: Plan, head: tuple[int, str]) -> tuple[list[Row], int, str]:
    """The event rows with their positions and hashes after HEAD; the new head."""
    position, digest = head
    rows = []
    link = chain.link
    for tenant, account_id, version, type_, amount, data, at_us, key in plan.events:
        position += 1
        digest = link(
            digest, position, tenant, account_id, version, type_, amount, data, at_us, key
        )
        rows.append(
            (position, tenant, account_id, version, type_, amount, data, at_us, key, digest)
        )
    return rows, position, digest


def chunk_size(remaining: int) -> int:
    """Rows in the next multi-row statement: 64, else the largest power of two."""
    if remaining >= BULK_ROWS:
        return BULK_ROWS
    return 1 << (remaining.bit_length() - 1)


def multi_row(template: str, rows: int) -> str:
    """TEMPLATE's single VALUES (...) group repeated ROWS times."""
    head, _, rest = template.partition(" VALUES ")
    depth = 0
    for index, char in enumerate(rest):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            group, tail = rest[: index + 1], rest[index + 1 :]
            return f"{head} VALUES {','.join([group] * rows)}{tail}"
    raise ValueError(f"no VALUES group in {template!r}")


def expand(sql: str, count: int) -> str:
    """SQL with ':in' replaced by COUNT placeholders."""
    return sql.replace(":in", ",".join("?" * count))


def by_tenant(keys: Iterable[AccountKey]) -> Iterator[tuple[str, list[str]]]:
    """Group (tenant, name) keys by tenant."""
    grouped: dict[str, list[str]] = {}
    for tenant, name in keys:
        grouped.setdefault(tenant, []).append(name)
    yield from grouped.items()


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    """ITEMS in slices of at most CHUNK."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
