"""The camouflage tables on both backends: batches, upserts, queries, and the migration."""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shieldx.camouflage import tables
from shieldx.camouflage.store import Batch, CamouflageStore, encode_event, session_row
from shieldx.platform import migrations
from shieldx.platform.context import PlatformContext
from shieldx.platform.db import Database


def _summary(session_id: str, *, decoy: str = "web", attacks: dict[str, int] | None = None,
             last_seen: float = 110.0) -> dict[str, object]:  # fmt: skip
    return {
        "session_id": session_id,
        "decoy": decoy,
        "template": "nginx-1.22.1-debian",
        "source_ip": "203.0.113.4",
        "source_port": 51000,
        "user_agent": "curl/8.5.0",
        "via": "decoy",
        "started": 100.0,
        "last_seen": last_seen,
        "requests": 7,
        "distinct_paths": 4,
        "maze_depth": 2,
        "honeytokens_taken": 1,
        "honeytokens_used": 0,
        "scanner": "http_client",
        "tool": "curl",
        "attack_types": attacks or {},
        "linked_to": None,
    }


def _event(session_id: str, path: str, attacks: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "event": "camouflage.request",
        "time": "2026-01-01T00:00:00.000000Z",
        "sensor": "t",
        "severity": "info",
        "session_id": session_id,
        "decoy": "web",
        "source_ip": "203.0.113.4",
        "method": "GET",
        "path": path,
        "status": 404,
        "scanner": "http_client",
        "attack_types": attacks,
    }


def test_a_batch_round_trips(ctx_on_backend: PlatformContext) -> None:
    store = CamouflageStore(ctx_on_backend.db)
    batch = Batch()
    batch.events += [
        encode_event(100.0 + i, _event("aaaaaaaaaaaaaaaa", f"/p{i}", ("secrets_probe",)))
        for i in range(3)
    ]
    batch.sessions.append(
        session_row(
            _summary("aaaaaaaaaaaaaaaa", attacks={"secrets_probe": 3}),
            ended_at=200.0,
            reason="idle",
            engaged=True,
        )
    )
    batch.sessions.append(
        session_row(
            _summary("bbbbbbbbbbbbbbbb", decoy="iis"), ended_at=150, reason="evicted", engaged=False
        )
    )
    batch.arms["web"] = {"decoy": "web", "alpha": 2.0, "beta": 1.0, "pulls": 1, "successes": 1.0,
                         "selections": 1, "updated_at": 200.0}  # fmt: skip
    batch.rewards["aaaaaaaaaaaaaaaa"] = {"session_id": "aaaaaaaaaaaaaaaa", "decoy": "web",
                                         "reward": 1.0, "source": "session", "at": 200.0}  # fmt: skip
    batch.assignments["203.0.113.4"] = {"source_ip": "203.0.113.4", "decoy": "web",
                                        "session_id": "aaaaaaaaaaaaaaaa", "created_at": 90.0}  # fmt: skip
    batch.honeytoken_links.append({"token_id": "t1", "session_id": "aaaaaaaaaaaaaaaa", "decoy": "web",
                                   "kind": "api_key", "path": "/.env", "planted_at": 105.0,
                                   "uses": 0, "last_used_at": None})  # fmt: skip
    batch.honeytoken_uses.append(
        {"token_id": "t1", "session_id": "aaaaaaaaaaaaaaaa", "at": 300.0, "closed_session": True}
    )
    batch.generated.append({"at": 106.0, "session_id": "aaaaaaaaaaaaaaaa", "decoy": "web",
                            "path": "/backup/users.csv", "kind": "users", "seed": 2**62 + 5,
                            "count": 40})  # fmt: skip
    batch.state["cursor"] = "7"
    store.write_batch(batch)

    stored = store.session("aaaaaaaaaaaaaaaa")
    assert stored is not None
    assert stored["attack_types"] == {"secrets_probe": 3}
    assert stored["honeytokens_used"] == 1 and stored["engaged"] is True
    assert [e["path"] for e in store.session_events("aaaaaaaaaaaaaaaa", limit=2)] == ["/p1", "/p2"]
    assert store.count_events(decoy="web") == 3
    assert [s["session_id"] for s in store.sessions(attack_type="secrets_probe")] == [
        "aaaaaaaaaaaaaaaa"
    ]
    assert [s["session_id"] for s in store.sessions(decoy="iis")] == ["bbbbbbbbbbbbbbbb"]
    assert store.sessions(since=1000.0) == []
    assert store.arms()["web"]["pulls"] == 1
    assert store.reward("aaaaaaaaaaaaaaaa")["reward"] == 1.0  # type: ignore[index]
    assert store.assignment("203.0.113.4")["decoy"] == "web"  # type: ignore[index]
    links = store.honeytokens_of("aaaaaaaaaaaaaaaa")
    assert links[0]["uses"] == 1 and links[0]["last_used_at"] == 300.0
    assert store.get_state("cursor") == "7"
    assert store.session_ids_exist(["aaaaaaaaaaaaaaaa", "cccccccccccccccc"]) == {"aaaaaaaaaaaaaaaa"}
    with ctx_on_backend.db.read() as conn:
        seed = conn.execute(sa.select(tables.generated_data_log.c.seed)).scalar_one()
        doc = conn.execute(sa.select(tables.events.c.document).limit(1)).scalar_one()
    assert seed == 2**62 + 5
    assert orjson.loads(doc)["event"] == "camouflage.request"

    # Upserts: a second write of the same keys replaces, never duplicates.
    again = Batch()
    again.arms["web"] = {**batch.arms["web"], "pulls": 2, "successes": 1.5}
    again.state["cursor"] = "9"
    store.write_batch(again)
    assert store.arms()["web"]["pulls"] == 2 and store.get_state("cursor") == "9"
    assert store.put_state_if_absent("cursor", "11") == "9"


def test_the_migration_matches_the_tables_and_goes_down(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, tables.metadata)
    ours = [d for d in diff if "camouflage" in repr(d)]
    assert ours == []
    assert "camouflage_0001" in migrations.current(database)
    migrations.downgrade(database, "camouflage@-1")
    names = set(sa.inspect(database.engine).get_table_names())
    assert not {t.name for t in tables.metadata.sorted_tables} & names
    assert "api_keys" in names
    migrations.upgrade(database)
    assert {t.name for t in tables.metadata.sorted_tables} <= set(
        sa.inspect(database.engine).get_table_names()
    )
