"""The evidence chain on both backends: appended in order, pruned by age, still verifiable."""

from __future__ import annotations

import sqlalchemy as sa

from shieldx.compliance import tables
from shieldx.compliance.assessment.store import AssessmentStore, EvidenceItem
from shieldx.platform import migrations
from shieldx.platform.db import Database


def test_pruning_keeps_the_rest_of_the_chain_verifiable(database: Database) -> None:
    migrations.upgrade(database)
    store = AssessmentStore(database)
    for at in (1_000, 2_000, 3_000):
        store.append_evidence(
            f"r{at}",
            [EvidenceItem("c1", "compliant", '{"a":1}'), EvidenceItem("c2", "x", "{}")],
            at,
        )
    assert store.verify_evidence() == {
        "ok": True,
        "verified": 6,
        "head_hash": store.verify_evidence()["head_hash"],
        "first_bad_seq": None,
    }
    assert store.prune_evidence(2_000) == 2
    assert store.verify_evidence()["ok"] is True
    assert store.verify_evidence()["verified"] == 4
    # Removing a row from the middle breaks the link of the row after it.
    with database.write() as conn:
        seqs = list(conn.execute(sa.select(tables.evidence.c.seq).order_by("seq")).scalars())
        conn.execute(tables.evidence.delete().where(tables.evidence.c.seq == seqs[1]))
    broken = store.verify_evidence()
    assert (broken["ok"], broken["first_bad_seq"]) == (False, seqs[2])
