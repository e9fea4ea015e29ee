"""The SQL of the ledger (shared by both backends; '?' placeholders) and its small helpers.

Import-light on purpose: the commit process imports this module and nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from shieldx.credits.store.records import AccountKey

CHUNK = 400  # keys per IN (...) lookup
# The asynchronous projections and their names in projection_tracking. The balances read
# model needs no row there: it is written in the same transaction as the events, so it is
# always at the chain head (credits_chain_head.position).
HISTORY_PROJECTION = "credit_history"
USAGE_PROJECTION = "credit_usage"
PROJECTIONS = (HISTORY_PROJECTION, USAGE_PROJECTION)
HOUR_US = 3_600_000_000
MONEY_TYPES = (
    "credits_purchased",
    "credits_consumed",
    "credits_reserved",
    "hold_committed",
    "hold_cancelled",
    "hold_expired",
    "grant_expired",
)
EVENT_COLUMNS = (
    "position, tenant, account_id, version, prev, type, amount, balance, held, reason, tx, data,"
    " at_us, idempotency_key, hash"
)
INSERT_EVENT = f"INSERT INTO event_store ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
INSERT_COMMAND = (
    "INSERT INTO command_log (tenant, idempotency_key, request_hash, op, status, response,"
    " created_at_us) VALUES (?,?,?,?,?,?,?)"
)
INSERT_BALANCE = (
    "INSERT INTO credit_balances_read_model (tenant, account_id, balance, held, available,"
    " version, last_position, updated_at_us) VALUES (?,?,?,?,?,?,?,?)"
)
# Optimistic concurrency: the row changes only if it still holds the version the commands
# were decided on; the commit counts the rows changed and refuses the batch otherwise.
UPDATE_BALANCE = (
    "UPDATE credit_balances_read_model SET balance = ?, held = ?, available = ?, version = ?,"
    " last_position = ?, updated_at_us = ? WHERE tenant = ? AND account_id = ? AND version = ?"
)
REPAIR_BALANCE = (
    "UPDATE credit_balances_read_model SET balance = ?, held = ?, available = ?, version = ?,"
    " last_position = ?, updated_at_us = ? WHERE tenant = ? AND account_id = ?"
)
STREAM_HEADS = (
    "SELECT account_id, last_position FROM credit_balances_read_model"
    " WHERE tenant = ? AND account_id IN (:in)"
)
INSERT_HOLD = (
    "INSERT INTO credit_holds (hold_id, tenant, account_id, amount, reason, created_at_us,"
    " expires_at_us, state) VALUES (?,?,?,?,?,?,?,'active')"
)
RESOLVE_HOLD = (
    "UPDATE credit_holds SET state = ?, resolved_at_us = ?, committed = ?, released = ?,"
    " expired = ? WHERE hold_id = ?"
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
# One stream, newest first, by its prev links: positions START and before, down to the
# event after version FLOOR, at most LIMIT steps (a recursive walk of primary-key lookups).
WALK_STREAM = (
    "WITH RECURSIVE walk(pos, steps) AS (SELECT CAST(? AS BIGINT), 1"
    " UNION ALL SELECT e.prev, walk.steps + 1 FROM event_store e JOIN walk ON e.position = walk.pos"
    " WHERE e.prev IS NOT NULL AND e.version > ? + 1 AND walk.steps < ?)"
    " SELECT e.position, e.version, e.prev, e.type, e.amount, e.reason, e.tx, e.data, e.at_us,"
    " e.balance, e.held FROM walk JOIN event_store e ON e.position = walk.pos"
    " WHERE e.version > ? ORDER BY e.position DESC"
)
# Versions and positions both grow along a stream, so the maxima belong to one event.
STREAM_HEADS_FROM_EVENTS = (
    "SELECT account_id, MAX(version), MAX(position) FROM event_store"
    " WHERE tenant = ? AND account_id IN (:in) GROUP BY account_id"
)
STREAM_VERSIONS = (
    "SELECT account_id, version, last_position FROM credit_balances_read_model"
    " WHERE tenant = ? AND account_id IN (:in)"
)


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


def json_field(backend: str, name: str, table: str = "") -> str:
    """SQL for a text field of the `data` JSON column (of TABLE, an alias with its dot)."""
    if backend == "sqlite":
        return f"json_extract({table}data, '$.{name}')"
    return f"({table}data::jsonb ->> '{name}')"


def json_int(backend: str, name: str, table: str = "") -> str:
    """SQL for an integer field of the `data` JSON column."""
    field = json_field(backend, name, table)
    return field if backend == "sqlite" else f"CAST({field} AS BIGINT)"


def balance_check_sql(backend: str) -> str:
    """The first position (AFTER, UPTO] whose recorded balance or held amount does not follow
    from the previous event of its stream (NULL if every one does). Parameters: after, upto."""
    released, expired = json_int(backend, "released", "e."), json_int(backend, "expired", "e.")
    balance = (
        "CASE e.type WHEN 'credits_purchased' THEN e.amount"
        " WHEN 'credits_consumed' THEN -e.amount WHEN 'grant_expired' THEN -e.amount"
        f" WHEN 'hold_committed' THEN -(e.amount + {expired})"
        f" WHEN 'hold_cancelled' THEN -{expired} WHEN 'hold_expired' THEN -{expired} ELSE 0 END"
    )
    held = (
        "CASE e.type WHEN 'credits_reserved' THEN e.amount"
        f" WHEN 'hold_committed' THEN -(e.amount + {released} + {expired})"
        " WHEN 'hold_cancelled' THEN -e.amount WHEN 'hold_expired' THEN -e.amount ELSE 0 END"
    )
    return (
        "SELECT MIN(e.position) FROM event_store e LEFT JOIN event_store p"
        " ON p.position = e.prev WHERE e.position > ? AND e.position <= ?"
        f" AND (e.balance <> COALESCE(p.balance, 0) + {balance}"
        f" OR e.held <> COALESCE(p.held, 0) + {held})"
    )


USAGE_SCANS = 3


def projection_sql(backend: str) -> tuple[str, str]:
    """(history, usage) statements projecting the events with AFTER < position <= UPTO.

    Both read only columns of the event rows (plus, for hold resolutions and purchases, one
    JSON field), so a projection step runs inside the database without a Python loop.
    Parameters: history (after, upto); usage (after, upto) three times (USAGE_SCANS).
    """
    money = ",".join(f"'{t}'" for t in MONEY_TYPES)
    history = (
        "INSERT INTO credit_history (position, tenant, account_id, type, amount, balance_after,"
        " available_after, at_us, reason, transaction_id) SELECT position, tenant, account_id,"
        " type, amount, balance, balance - held, at_us, reason, tx FROM event_store"
        f" WHERE position > ? AND position <= ? AND type IN ({money})"
    )
    released, expired = json_int(backend, "released"), json_int(backend, "expired")
    kind = json_field(backend, "kind")
    bucket = f"at_us - at_us % {HOUR_US}"
    resolutions = "('hold_committed','hold_cancelled','hold_expired')"
    # One scan for every event's own amount (its kind and reason by type), one each for the
    # released and expired parts of hold resolutions: three scans of the range, not six.
    primary = (
        "CASE type WHEN 'credits_purchased' THEN 'purchased' WHEN 'credits_reserved' THEN 'held'"
        " WHEN 'grant_expired' THEN 'expired' ELSE 'consumed' END AS kind,"
        f" CASE type WHEN 'credits_purchased' THEN {kind} WHEN 'credits_consumed' THEN reason"
        " WHEN 'hold_committed' THEN reason ELSE '' END AS reason, amount AS value"
        " FROM event_store WHERE (type IN ('credits_purchased','credits_consumed',"
        "'hold_committed','credits_reserved') OR (type = 'grant_expired' AND amount > 0))"
    )
    parts = [
        primary,
        f"'released', '', {released} FROM event_store"
        f" WHERE type IN {resolutions} AND {released} > 0",
        f"'expired', '', {expired} FROM event_store WHERE type IN {resolutions} AND {expired} > 0",
    ]
    union = " UNION ALL ".join(
        f"SELECT tenant, {bucket} AS bucket_us, account_id, {part}"
        " AND position > ? AND position <= ?"
        for part in parts
    )
    usage = (
        "INSERT INTO credit_usage (tenant, bucket_us, account_id, kind, reason, amount, count)"
        f" SELECT tenant, bucket_us, account_id, kind, reason, SUM(value), COUNT(*) FROM ({union})"
        " u WHERE true GROUP BY tenant, bucket_us, account_id, kind, reason"
        " ON CONFLICT (tenant, bucket_us, account_id, kind, reason) DO UPDATE SET"
        " amount = credit_usage.amount + excluded.amount,"
        " count = credit_usage.count + excluded.count"
    )
    return history, usage
