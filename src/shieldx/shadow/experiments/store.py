"""A/B tests in the database: definitions, per-variant counters and the verdict-diff aggregates.

Counters are only ever incremented (UPDATE ... SET n = n + :d), so every process can add
its own counts to the same rows. The aggregates are written with UPDATE, then INSERT for
keys not seen before; two processes inserting the same new key at once make one flush
fail and be retried (its counts are put back), never counted twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa

from shieldx.platform.db import Database
from shieldx.shadow.experiments.sketch import DistinctSketch
from shieldx.shadow.experiments.stats import GaussianPrior, Metric
from shieldx.shadow.experiments.tallies import ExperimentTally, VariantTally
from shieldx.shadow.flags.domain import Variant
from shieldx.shadow.tables import (
    ab_test_blast_clients,
    ab_test_client_sketches,
    ab_test_results,
    ab_test_variants,
    ab_tests,
)
from shieldx.shadow.timeutil import maybe_utc, utc
from shieldx.shadow.versions import bump

RulesetRef = tuple[str, int]
_COUNTERS = tuple(VariantTally().as_dict())


@dataclass(frozen=True, slots=True)
class Experiment:
    """An A/B test's definition and state."""

    id: str
    tenant: str
    name: str
    control: RulesetRef
    candidate: RulesetRef
    split: float
    metric: Metric
    prior: GaussianPrior
    min_samples: int
    sticky_key: str
    status: str
    created_at: datetime
    created_by: str
    winner: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None
    stopped_at: datetime | None = None
    seed: str | None = None

    @property
    def hash_seed(self) -> str:
        """What units are hashed with: the chosen seed, else the test id."""
        return self.seed or self.id


@dataclass(frozen=True, slots=True)
class ExperimentTotals:
    """Everything counted for a test so far, across processes."""

    control: VariantTally
    candidate: VariantTally
    matrix: dict[tuple[str, str], int]
    new_blocks: dict[str, int]
    new_allows: dict[str, int]
    exact_clients: int
    sketch: DistinctSketch | None


def _prior_text(prior: GaussianPrior) -> str:
    return orjson.dumps(
        {
            "mean": prior.mean,
            "variance": prior.variance,
            "proper": prior.proper,
            "scale": prior.scale,
        }
    ).decode()


class ExperimentStore:
    """Blocking access to A/B tests; callers run it in worker threads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, experiment: Experiment) -> None:
        """Store a new running test and its two variants; bump the routing version."""
        e = experiment
        with self._db.write() as conn:
            conn.execute(
                ab_tests.insert().values(
                    id=e.id,
                    tenant=e.tenant,
                    name=e.name,
                    metric=str(e.metric),
                    split=e.split,
                    prior=_prior_text(e.prior),
                    min_samples=e.min_samples,
                    sticky_key=e.sticky_key,
                    seed=e.seed,
                    status="running",
                    created_at=e.created_at,
                    created_by=e.created_by,
                )
            )
            conn.execute(
                ab_test_variants.insert(),
                [
                    {
                        "test_id": e.id,
                        "variant": Variant.CONTROL.value,
                        "ruleset_name": e.control[0],
                        "ruleset_version": e.control[1],
                        "traffic_percentage": 100.0 - e.split,
                    },
                    {
                        "test_id": e.id,
                        "variant": Variant.CANDIDATE.value,
                        "ruleset_name": e.candidate[0],
                        "ruleset_version": e.candidate[1],
                        "traffic_percentage": e.split,
                    },
                ],
            )
            bump(conn, "routing_version")

    def get(self, test_id: str) -> Experiment | None:
        """One test, or None."""
        found = self._select(ab_tests.c.id == test_id)
        return found[0] if found else None

    def for_tenant(self, tenant: str, status: str | None = None) -> list[Experiment]:
        """A tenant's tests, newest first."""
        where = ab_tests.c.tenant == tenant
        if status is not None:
            where = sa.and_(where, ab_tests.c.status == status)
        return self._select(where)

    def running(self, conn: sa.Connection | None = None) -> list[Experiment]:
        """Every running test of every tenant."""
        return self._select(ab_tests.c.status == "running", conn)

    def running_count(self, tenant: str) -> int:
        """How many tests of TENANT are running."""
        query = sa.select(sa.func.count()).where(
            ab_tests.c.tenant == tenant, ab_tests.c.status == "running"
        )
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def finish(
        self, test_id: str, *, status: str, winner: str | None, reason: str, now: datetime
    ) -> bool:
        """Move a running test to decided or stopped; False when it was no longer running."""
        stamp = {"decided_at": now} if status == "decided" else {"stopped_at": now}
        with self._db.write() as conn:
            changed = conn.execute(
                ab_tests.update()
                .where(ab_tests.c.id == test_id, ab_tests.c.status == "running")
                .values(status=status, winner=winner, reason=reason, **stamp)
            ).rowcount
            if changed:
                bump(conn, "routing_version")
            return bool(changed)

    def _select(
        self, where: sa.ColumnElement[bool], conn: sa.Connection | None = None
    ) -> list[Experiment]:
        query = sa.select(ab_tests).where(where).order_by(ab_tests.c.created_at.desc())
        if conn is None:
            with self._db.read() as own:
                return self._select(where, own)
        rows = conn.execute(query).all()
        ids = [row._mapping["id"] for row in rows]
        refs: dict[tuple[str, str], RulesetRef] = {}
        if ids:
            variants = conn.execute(
                sa.select(
                    ab_test_variants.c.test_id,
                    ab_test_variants.c.variant,
                    ab_test_variants.c.ruleset_name,
                    ab_test_variants.c.ruleset_version,
                ).where(ab_test_variants.c.test_id.in_(ids))
            )
            refs = {(t, v): (name, int(version)) for t, v, name, version in variants}
        return [_experiment(row._mapping, refs) for row in rows]

    def totals(self, test_id: str) -> ExperimentTotals:
        """The persisted counters and aggregates of one test."""
        with self._db.read() as conn:
            variants = {
                row._mapping["variant"]: VariantTally(
                    **{c: int(row._mapping[c]) for c in _COUNTERS}
                )
                for row in conn.execute(
                    sa.select(ab_test_variants).where(ab_test_variants.c.test_id == test_id)
                )
            }
            aggregates: dict[str, dict[str, int]] = {"matrix": {}, "new_block": {}, "new_allow": {}}
            for kind, key, count in conn.execute(
                sa.select(ab_test_results.c.kind, ab_test_results.c.key, ab_test_results.c.count)
                .where(ab_test_results.c.test_id == test_id)
                .order_by(ab_test_results.c.kind, ab_test_results.c.key)
            ):
                aggregates[kind][key] = int(count)
            exact = conn.execute(
                sa.select(sa.func.count()).where(ab_test_blast_clients.c.test_id == test_id)
            ).scalar_one()
            registers = conn.execute(
                sa.select(ab_test_client_sketches.c.registers).where(
                    ab_test_client_sketches.c.test_id == test_id
                )
            ).scalar_one_or_none()
        matrix = {}
        for key, count in aggregates["matrix"].items():
            control, _, candidate = key.partition(">")
            matrix[(control, candidate)] = count
        return ExperimentTotals(
            control=variants.get(Variant.CONTROL.value, VariantTally()),
            candidate=variants.get(Variant.CANDIDATE.value, VariantTally()),
            matrix=matrix,
            new_blocks=aggregates["new_block"],
            new_allows=aggregates["new_allow"],
            exact_clients=int(exact),
            sketch=DistinctSketch(bytes(registers)) if registers is not None else None,
        )

    def add_counts(
        self, conn: sa.Connection, tallies: dict[str, ExperimentTally], client_bound: int
    ) -> dict[str, tuple[int, int]]:
        """Add pending tallies inside the flush transaction; return (control n, candidate n)."""
        totals: dict[str, tuple[int, int]] = {}
        for test_id, tally in tallies.items():
            for variant, counts in (
                (Variant.CONTROL, tally.control),
                (Variant.CANDIDATE, tally.candidate),
            ):
                if counts.n:
                    _increment_variant(conn, test_id, variant, counts)
            _add_aggregates(conn, test_id, "matrix", _matrix_keys(tally.matrix))
            _add_aggregates(conn, test_id, "new_block", tally.new_blocks.items())
            _add_aggregates(conn, test_id, "new_allow", tally.new_allows.items())
            if tally.clients:
                _add_clients(conn, test_id, tally.clients, client_bound)
            if tally.sketch is not None:
                _merge_sketch(conn, test_id, tally.sketch)
            rows = conn.execute(
                sa.select(ab_test_variants.c.variant, ab_test_variants.c.n).where(
                    ab_test_variants.c.test_id == test_id
                )
            )
            n = {variant: count for variant, count in rows}
            totals[test_id] = (int(n.get("control", 0)), int(n.get("candidate", 0)))
        return totals


def _experiment(m: sa.RowMapping, refs: dict[tuple[str, str], RulesetRef]) -> Experiment:
    prior = orjson.loads(m["prior"])
    return Experiment(
        id=m["id"],
        tenant=m["tenant"],
        name=m["name"],
        control=refs[(m["id"], Variant.CONTROL.value)],
        candidate=refs[(m["id"], Variant.CANDIDATE.value)],
        split=float(m["split"]),
        metric=Metric(m["metric"]),
        prior=GaussianPrior(prior["mean"], prior["variance"], prior["proper"], prior["scale"]),
        min_samples=int(m["min_samples"]),
        sticky_key=m["sticky_key"],
        status=m["status"],
        created_at=utc(m["created_at"]),
        created_by=m["created_by"],
        winner=m["winner"],
        reason=m["reason"],
        decided_at=maybe_utc(m["decided_at"]),
        stopped_at=maybe_utc(m["stopped_at"]),
        seed=m["seed"],
    )


def _matrix_keys(matrix: Counter[tuple[str, str]]) -> Iterable[tuple[str, int]]:
    return ((f"{control}>{candidate}", count) for (control, candidate), count in matrix.items())


def _increment_variant(
    conn: sa.Connection, test_id: str, variant: Variant, counts: VariantTally
) -> None:
    columns = ab_test_variants.c
    conn.execute(
        ab_test_variants.update()
        .where(columns.test_id == test_id, columns.variant == variant.value)
        .values({columns[name]: columns[name] + value for name, value in counts.as_dict().items()})
    )


def _add_aggregates(
    conn: sa.Connection, test_id: str, kind: str, items: Iterable[tuple[str, int]]
) -> None:
    t = ab_test_results
    for key, count in items:
        if not count:
            continue
        where = sa.and_(t.c.test_id == test_id, t.c.kind == kind, t.c.key == key[:160])
        updated = conn.execute(t.update().where(where).values(count=t.c.count + count)).rowcount
        if not updated:
            conn.execute(t.insert().values(test_id=test_id, kind=kind, key=key[:160], count=count))


def _add_clients(conn: sa.Connection, test_id: str, clients: set[str], bound: int) -> None:
    t = ab_test_blast_clients
    stored = conn.execute(sa.select(sa.func.count()).where(t.c.test_id == test_id)).scalar_one()
    if stored >= bound:
        return  # saturated: from here on the sketch gives the figure
    pending = sorted(clients)
    known: set[str] = set()
    for start in range(0, len(pending), 500):
        chunk = pending[start : start + 500]
        known.update(
            conn.execute(
                sa.select(t.c.client).where(t.c.test_id == test_id, t.c.client.in_(chunk))
            ).scalars()
        )
    fresh = [{"test_id": test_id, "client": c} for c in pending if c not in known]
    if fresh:
        conn.execute(t.insert(), fresh)


def _merge_sketch(conn: sa.Connection, test_id: str, sketch: DistinctSketch) -> None:
    t = ab_test_client_sketches
    # FOR UPDATE: on PostgreSQL two processes merging at once must not lose registers.
    current = conn.execute(
        sa.select(t.c.registers).where(t.c.test_id == test_id).with_for_update()
    ).scalar_one_or_none()
    if current is None:
        conn.execute(t.insert().values(test_id=test_id, registers=sketch.to_bytes()))
        return
    merged = DistinctSketch(bytes(current))
    merged.merge(sketch)
    conn.execute(t.update().where(t.c.test_id == test_id).values(registers=merged.to_bytes()))
