"""Reading and writing the camouflage tables: one transaction per batch, plain queries.

The writer thread hands ``write_batch`` everything that piled up since the last flush
(events, closed sessions, bandit state, honeytoken links); the management API reads through
the query methods, from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shieldx.camouflage import tables as t
from shieldx.platform.db import Database

Row = dict[str, Any]
# An event ready for storage, in camouflage_events column order (id excepted): event, ts,
# session_id, decoy, source_ip, method, path, status, scanner, attack_types, document.
EventRecord = tuple[
    str, float, str | None, str | None, str | None, str | None, str | None, int | None,
    str | None, str | None, str,
]  # fmt: skip
EVENT_COLUMNS = (
    "event", "ts", "session_id", "decoy", "source_ip", "method", "path", "status", "scanner",
    "attack_types", "document",
)  # fmt: skip


@dataclass
class Batch:
    """What one writer transaction stores."""

    events: list[EventRecord] = field(default_factory=list)
    sessions: list[Row] = field(default_factory=list)
    arms: dict[str, Row] = field(default_factory=dict)
    rewards: dict[str, Row] = field(default_factory=dict)
    assignments: dict[str, Row] = field(default_factory=dict)
    honeytoken_links: list[Row] = field(default_factory=list)
    honeytoken_uses: list[Row] = field(default_factory=list)
    generated: list[Row] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.sessions)
            + len(self.arms)
            + len(self.rewards)
            + len(self.assignments)
            + len(self.honeytoken_links)
            + len(self.honeytoken_uses)
            + len(self.generated)
            + len(self.state)
        )


def storable(value: Any) -> Any:
    """VALUE with NUL characters spelled out: PostgreSQL refuses them in text columns.

    Attackers send them (a decoded %00 in a decoy path, a NUL in a header) and one refused
    row would fail the whole batch, dropping every event around it. The JSON document keeps
    the exact value (JSON escapes NUL as \\u0000).
    """
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\\x00")
    return value


def _storable_rows(rows: Iterable[Row]) -> list[Row]:
    return [{k: storable(v) for k, v in row.items()} for row in rows]


def encode_event(ts: float, event: Mapping[str, Any]) -> EventRecord:
    """The indexed columns of an event plus its JSON document (compact while it is queued)."""
    attacks = event.get("attack_types")
    return (
        event["event"],
        ts,
        storable(event.get("session_id")),
        storable(event.get("decoy")),
        storable(event.get("source_ip")),
        storable(event.get("method")),
        storable(event.get("path")),
        event.get("status"),
        storable(event.get("scanner")),
        storable(",".join(attacks)[:200]) if attacks else None,
        orjson.dumps(event).decode(),
    )


# Rows per INSERT statement: 256 rows x 11 columns stays far below SQLite's 32,766 variables.
_ROWS_PER_INSERT = 256


@cache
def _event_insert(dialect: sa.Dialect, rows: int) -> tuple[str, bool]:
    """The driver-level multi-row INSERT for ROWS events; True if it takes positional params.

    Events arrive thousands per second. One statement per 256 rows, with the values handed
    straight to the driver, costs a fraction of an executemany through SQLAlchemy's per-row
    parameter processing, and the writer thread gives the GIL back once per statement rather
    than once per row (which starved it while the event loop was busy).
    """
    stmt = t.events.insert().values([dict.fromkeys(EVENT_COLUMNS)] * rows)
    compiled = stmt.compile(dialect=dialect)
    if compiled.positional:
        expected = tuple(f"{c}_m{i}" for i in range(rows) for c in EVENT_COLUMNS)
        assert tuple(compiled.positiontup or ()) == expected
    return str(compiled), bool(compiled.positional)


def _chunk_sizes(count: int) -> list[int]:
    """Full 256-row statements, then the remainder in powers of two (few statements to cache)."""
    sizes = [_ROWS_PER_INSERT] * (count // _ROWS_PER_INSERT)
    rest = count % _ROWS_PER_INSERT
    bit = _ROWS_PER_INSERT // 2
    while rest:
        if rest >= bit:
            sizes.append(bit)
            rest -= bit
        bit //= 2
    return sizes


def insert_events(conn: sa.Connection, records: Sequence[EventRecord]) -> None:
    """Insert events in multi-row statements of 256, 128, …, 1 rows."""
    start = 0
    for size in _chunk_sizes(len(records)):
        chunk = records[start : start + size]
        start += size
        sql, positional = _event_insert(conn.dialect, size)
        params: Any
        if positional:
            params = tuple(chain.from_iterable(chunk))
        else:
            params = {
                f"{column}_m{i}": value
                for i, record in enumerate(chunk)
                for column, value in zip(EVENT_COLUMNS, record, strict=True)
            }
        conn.exec_driver_sql(sql, params)


def _upsert(conn: sa.Connection, table: sa.Table, rows: Sequence[Row], keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET every other column (both backends)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), list(rows))


def _insert_ignore(conn: sa.Connection, table: sa.Table, rows: Sequence[Row]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


class CamouflageStore:
    """The camouflage tables on the platform database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Compile the event INSERTs now (about 100 ms of Python), not during the first load."""
        size = _ROWS_PER_INSERT
        while size:
            _event_insert(self.db.engine.dialect, size)
            size //= 2

    def write_batch(self, batch: Batch) -> None:
        """Store a whole batch in one transaction."""
        with self.db.write() as conn:
            if batch.events:
                insert_events(conn, batch.events)
            _upsert(conn, t.sessions, _storable_rows(batch.sessions), ["id"])
            _upsert(conn, t.bandit_arms, list(batch.arms.values()), ["decoy"])
            _upsert(conn, t.bandit_rewards, list(batch.rewards.values()), ["session_id"])
            _upsert(conn, t.assignments, list(batch.assignments.values()), ["source_ip"])
            _insert_ignore(conn, t.honeytoken_links, _storable_rows(batch.honeytoken_links))
            for use in batch.honeytoken_uses:
                self._record_use(conn, use)
            if batch.generated:
                conn.execute(t.generated_data_log.insert(), batch.generated)
            _upsert(
                conn, t.state, [{"key": k, "value": v} for k, v in batch.state.items()], ["key"]
            )

    @staticmethod
    def _record_use(conn: sa.Connection, use: Row) -> None:
        links = t.honeytoken_links
        conn.execute(
            links.update()
            .where(links.c.token_id == use["token_id"])
            .values(uses=links.c.uses + 1, last_used_at=use["at"])
        )
        if use.get("closed_session"):
            s = t.sessions
            conn.execute(
                s.update()
                .where(s.c.id == use["session_id"])
                .values(honeytokens_used=s.c.honeytokens_used + 1)
            )

    def put_state_if_absent(self, key: str, value: str) -> str:
        """Set a state value unless one exists; return the value in effect (first writer wins)."""
        with self.db.write() as conn:
            _insert_ignore(conn, t.state, [{"key": key, "value": value}])
            return str(
                conn.execute(sa.select(t.state.c.value).where(t.state.c.key == key)).scalar_one()
            )

    # -- reading ---------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        """One state value, or None."""
        with self.db.read() as conn:
            value = conn.execute(
                sa.select(t.state.c.value).where(t.state.c.key == key)
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def session(self, session_id: str) -> Row | None:
        """A stored (closed) session."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(t.sessions).where(t.sessions.c.id == session_id)
            ).one_or_none()
        return None if row is None else _session_dict(dict(row._mapping))

    def linked_sessions(self, session_id: str) -> list[str]:
        """Ids of sessions tied to SESSION_ID by a link marker after it had closed."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(t.sessions.c.id)
                .where(t.sessions.c.linked_to == session_id)
                .order_by(t.sessions.c.started_at)
            ).all()
        return [str(r[0]) for r in rows]

    def sessions(
        self,
        *,
        since: float | None = None,
        decoy: str | None = None,
        attack_type: str | None = None,
        scanner: str | None = None,
        limit: int = 100,
    ) -> list[Row]:
        """Stored sessions active at or after SINCE, newest first, filtered."""
        s = t.sessions
        query = sa.select(s).order_by(s.c.last_seen.desc()).limit(limit)
        if since is not None:
            query = query.where(s.c.last_seen >= since)
        if decoy is not None:
            query = query.where(s.c.decoy == decoy)
        if attack_type is not None:
            query = query.where(s.c.attack_tags.like(f"%,{attack_type},%"))
        if scanner is not None:
            query = query.where(s.c.scanner == scanner)
        with self.db.read() as conn:
            return [_session_dict(dict(r._mapping)) for r in conn.execute(query)]

    def session_events(self, session_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The latest LIMIT events of a session, oldest first."""
        e = t.events
        query = (
            sa.select(e.c.document)
            .where(e.c.session_id == session_id)
            .order_by(e.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            docs = [orjson.loads(r[0]) for r in conn.execute(query)]
        docs.reverse()
        return docs

    def count_events(self, *, decoy: str | None = None, event: str | None = None) -> int:
        """How many events are stored (for one decoy / event id)."""
        query = sa.select(sa.func.count()).select_from(t.events)
        if decoy is not None:
            query = query.where(t.events.c.decoy == decoy)
        if event is not None:
            query = query.where(t.events.c.event == event)
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def honeytokens_of(self, session_id: str) -> list[Row]:
        """The honeytokens a session took, oldest first."""
        links = t.honeytoken_links
        query = (
            sa.select(links).where(links.c.session_id == session_id).order_by(links.c.planted_at)
        )
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def arms(self) -> dict[str, Row]:
        """Stored bandit arms by decoy."""
        with self.db.read() as conn:
            return {r.decoy: dict(r._mapping) for r in conn.execute(sa.select(t.bandit_arms))}

    def reward(self, session_id: str) -> Row | None:
        """The reward a session contributed, if any."""
        query = sa.select(t.bandit_rewards).where(t.bandit_rewards.c.session_id == session_id)
        with self.db.read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else dict(row._mapping)

    def assignment(self, source_ip: str) -> Row | None:
        """The sticky decoy of a source address, if any."""
        query = sa.select(t.assignments).where(t.assignments.c.source_ip == source_ip)
        with self.db.read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else dict(row._mapping)

    def session_ids_exist(self, ids: Iterable[str]) -> set[str]:
        """Which of IDS are stored sessions."""
        wanted = list(ids)
        if not wanted:
            return set()
        query = sa.select(t.sessions.c.id).where(t.sessions.c.id.in_(wanted))
        with self.db.read() as conn:
            return {str(r[0]) for r in conn.execute(query)}


def _session_dict(row: Mapping[str, Any]) -> Row:
    out = dict(row)
    out["attack_types"] = orjson.loads(out["attack_types"]) if out["attack_types"] else {}
    out.pop("attack_tags", None)
    out["session_id"] = out.pop("id")
    return out


def session_row(summary: Mapping[str, Any], *, ended_at: float, reason: str, engaged: bool) -> Row:
    """A closed session's row from its summary (LiveSession.summary())."""
    attacks: dict[str, int] = summary["attack_types"]
    return {
        "id": summary["session_id"],
        "decoy": summary["decoy"],
        "template": summary["template"],
        "source_ip": summary["source_ip"],
        "source_port": summary["source_port"],
        "user_agent": summary["user_agent"],
        "via": summary["via"],
        "started_at": summary["started"],
        "last_seen": summary["last_seen"],
        "ended_at": ended_at,
        "close_reason": reason,
        "requests": summary["requests"],
        "distinct_paths": summary["distinct_paths"],
        "maze_depth": summary["maze_depth"],
        "honeytokens_taken": summary["honeytokens_taken"],
        "honeytokens_used": summary["honeytokens_used"],
        "scanner": summary["scanner"],
        "tool": summary["tool"],
        "attack_types": orjson.dumps(attacks).decode(),
        "attack_tags": ("," + ",".join(sorted(attacks)) + ",")[:300] if attacks else "",
        "engaged": engaged,
        "linked_to": summary["linked_to"],
    }
