"""Reading what attribution needs from the camouflage tables: sessions and honeytoken links.

A closed session's row has its figures; its fingerprints, first paths and cadence are in the
``camouflage.session.closed`` event written with it (found through the events' session index),
so attribution needs no table of its own and works on sessions stored before it existed (they
simply show no fingerprints).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from shieldx.camouflage import tables as t
from shieldx.camouflage.actors.domain import SessionFacts, TokenLink
from shieldx.camouflage.recon.events import SESSION_CLOSED
from shieldx.platform.db import Database

# Ids per IN (…) list: far below SQLite's variable limit.
_CHUNK = 500


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def facts_from_summary(summary: dict[str, Any]) -> SessionFacts:
    """SessionFacts from a session summary (LiveSession.summary() or a closed event)."""
    cadence = summary.get("cadence_s")
    fingerprints = summary.get("fingerprints") or {}
    return SessionFacts(
        id=str(summary["session_id"]),
        source_ip=str(summary["source_ip"]),
        decoy=str(summary["decoy"]),
        user_agent=str(summary.get("user_agent") or ""),
        started=float(summary["started"]),
        last_seen=float(summary["last_seen"]),
        requests=int(summary.get("requests") or 0),
        scanner=str(summary.get("scanner") or "unknown"),
        tool=str(summary.get("tool") or ""),
        maze_depth=int(summary.get("maze_depth") or 0),
        honeytokens_taken=int(summary.get("honeytokens_taken") or 0),
        honeytokens_used=int(summary.get("honeytokens_used") or 0),
        attack_types=dict(summary.get("attack_types") or {}),
        fingerprints={str(k): dict(v) for k, v in fingerprints.items() if isinstance(v, dict)},
        path_sample=tuple(str(p) for p in summary.get("path_sample") or ()),
        cadence_s=float(cadence) if isinstance(cadence, int | float) else None,
        linked_to=summary.get("linked_to"),
    )


class ActorStore:
    """Queries over the camouflage tables for attribution."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sessions(self, *, since: float | None, limit: int) -> list[SessionFacts]:
        """Stored sessions active at or after SINCE (the LIMIT most recent), with their clues."""
        s = t.sessions
        query = sa.select(s).order_by(s.c.last_seen.desc()).limit(limit)
        if since is not None:
            query = query.where(s.c.last_seen >= since)
        with self.db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
            extras = self._closed_documents(conn, [str(r["id"]) for r in rows])
        facts = []
        for row in rows:
            summary: dict[str, Any] = {
                **row,
                "session_id": row["id"],
                "started": row["started_at"],
                "attack_types": orjson.loads(row["attack_types"]) if row["attack_types"] else {},
            }
            for key in ("fingerprints", "path_sample", "cadence_s"):
                summary[key] = extras.get(row["id"], {}).get(key)
            facts.append(facts_from_summary(summary))
        return facts

    @staticmethod
    def _closed_documents(conn: sa.Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        e = t.events
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            query = sa.select(e.c.session_id, e.c.document).where(
                e.c.session_id.in_(chunk), e.c.event == SESSION_CLOSED
            )
            for session_id, document in conn.execute(query):
                found[str(session_id)] = orjson.loads(document)
        return found

    def token_links(self, session_ids: Sequence[str]) -> list[TokenLink]:
        """The honeytokens shown to these sessions."""
        links = t.honeytoken_links
        found = []
        with self.db.read() as conn:
            for chunk in _chunks(list(session_ids)):
                query = sa.select(links).where(links.c.session_id.in_(chunk))
                found += [
                    TokenLink(
                        token_id=str(r.token_id),
                        session_id=str(r.session_id),
                        kind=str(r.kind),
                        path=str(r.path),
                        planted_at=float(r.planted_at),
                    )
                    for r in conn.execute(query)
                ]
        return found
