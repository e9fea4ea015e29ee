"""The DR engine: probe each region, score it, fail over in six recorded steps, fail back.

Patroni does the promotion itself (when the leader's key expires, or when asked through
its REST API); ShieldX decides when to ask (its own health checks: a write probe catches a
primary that Patroni still thinks alive but that cannot commit), fences the old region
(the credits commit process acknowledges writes only on the leader-key holder, and its
cloud_regions row is marked fenced until it is seen streaming as a standby again), routes
(drops pooled connections to the old primary; new ones go to the leader) and records each
step with its time. A region is a Patroni member: its name is the member's name.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from sqlalchemy.exc import SQLAlchemyError

from shieldx.dr.failover.domain import (
    Candidate,
    Probe,
    choose_target,
    failed,
    home_region,
    patroni_dynamic_config,
    score,
    should_fail_over,
)
from shieldx.dr.failover.store import DrStore
from shieldx.dr.metrics import DrMetrics
from shieldx.dr.patroni import http_json
from shieldx.dr.settings import DisasterRecoverySettings, RegionSettings
from shieldx.platform.dcs import DcsUnavailable, PatroniDcs

log = structlog.get_logger("shieldx.dr")
PROBE_TIMEOUT_S = 3.0
MAX_REJOIN_LAG_BYTES = 1_048_576  # Patroni's maximum_lag_on_failover in the lab


class FailoverRefused(Exception):
    """A failover or failback cannot start (the message says why); nothing was changed."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class RegionView:
    """A region as the last check saw it."""

    settings: RegionSettings
    probe: Probe | None = None
    score: float = 0.0
    failures: int = 0
    role: str = "unknown"


class DisasterRecovery:
    """Health checks, failover and failback over the configured regions."""

    def __init__(
        self,
        settings: DisasterRecoverySettings,
        *,
        store: DrStore,
        metrics: DrMetrics,
        conninfo: str,
        dispose_pool: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.conninfo = conninfo  # user, database, password: the regions' hosts replace host
        self.dispose_pool = dispose_pool
        self.dcs = PatroniDcs(settings.etcd, settings.scope) if settings.etcd else None
        self.regions = {r.name: RegionView(r) for r in settings.regions}
        self.lock = threading.Lock()  # one failover (or check) at a time
        self.primary: str | None = None

    # ------------------------------------------------------------------ probing
    def _connect(self, region: RegionSettings) -> psycopg.Connection[Any]:
        hosts = [h.rpartition(":") for h in region.hosts]
        return psycopg.connect(
            self.conninfo,
            host=",".join(h for h, _, _ in hosts),
            port=",".join(p for _, _, p in hosts),
            connect_timeout=int(PROBE_TIMEOUT_S),
            autocommit=True,
            target_session_attrs="any",
        )

    def probe(self, region: RegionSettings) -> Probe:
        """Connectivity, role (a write probe on a primary) and lag of REGION."""
        try:
            with self._connect(region) as conn:
                cancel = threading.Timer(PROBE_TIMEOUT_S, conn.cancel_safe)
                cancel.start()
                try:
                    return self._probe(conn, region.name)
                finally:
                    cancel.cancel()
        except psycopg.Error as exc:
            return Probe(connected=False, writable=False, error=str(exc).strip()[:500])

    def _probe(self, conn: psycopg.Connection[Any], name: str) -> Probe:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if row is None or not row[0]:
            with conn.transaction():  # the write probe: a real row, replicated as set
                conn.execute("UPDATE cloud_regions SET updated_at = now() WHERE name = %s", (name,))
            return Probe(connected=True, writable=True, lag_bytes=0, lag_seconds=0.0)
        lag = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()),"
            " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
            " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
        ).fetchone()
        lag_bytes = int(lag[0]) if lag and lag[0] is not None else None
        lag_seconds = float(lag[1]) if lag and lag[1] is not None else None
        return Probe(connected=True, writable=False, lag_bytes=lag_bytes, lag_seconds=lag_seconds)

    def _sender_lag(self, primary: RegionSettings) -> dict[str, int]:
        """Bytes each standby (by Patroni member name) is behind, as the primary sees it."""
        try:
            with self._connect(primary) as conn:
                rows = conn.execute(
                    "SELECT application_name,"
                    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication"
                ).fetchall()
        except psycopg.Error:
            return {}
        return {str(n): int(b) for n, b in rows if b is not None}

    def leader(self) -> str | None:
        """The region holding Patroni's leader key (or the writable one, without etcd)."""
        if self.dcs is not None:
            try:
                return self.dcs.leader().name
            except DcsUnavailable:
                return None
        for name, view in self.regions.items():
            if view.probe is not None and view.probe.writable:
                return name
        return None

    # ------------------------------------------------------------------ health checks
    def check_all(self) -> dict[str, float]:
        """Probe every region once, record it, and fail over if the primary keeps failing."""
        with self.lock:
            scores = self._check_all()
        primary = self.primary
        if primary is None:
            return scores
        view = self.regions[primary]
        threshold = self.settings.failover_threshold
        if should_fail_over(view.failures, threshold=threshold, auto=self.settings.auto_failover):
            reason = f"{view.failures} consecutive failed health checks of {primary}"
            try:
                self.failover(None, reason=reason)
            except FailoverRefused as exc:
                log.error("dr.auto_failover_refused", reason=str(exc))
        return scores

    def _check_all(self) -> dict[str, float]:
        probes = {name: self.probe(view.settings) for name, view in self.regions.items()}
        leader = self.leader()
        if leader is None:
            leader = next((n for n, p in probes.items() if p.writable), None)
        if leader is not None and self.primary is not None and leader != self.primary:
            self._observed_failover(self.primary, leader)
        if leader is not None:
            self.primary = leader
        lags = self._sender_lag(self.regions[leader].settings) if leader in self.regions else {}
        rpo_s = self.settings.rpo.total_seconds()
        epoch = self._epoch()
        scores = {}
        for name, view in self.regions.items():
            probe = probes[name]
            if name in lags and probe.connected and not probe.writable:
                probe = Probe(True, False, lags[name], probe.lag_seconds, probe.error)
            is_primary = name == self.primary
            value = score(probe, primary=is_primary, rpo_s=rpo_s)
            view.probe, view.score = probe, value
            view.failures = view.failures + 1 if failed(value) else 0
            view.role = "primary" if is_primary else "standby"
            status = "down" if not probe.connected else ("degraded" if failed(value) else "healthy")
            self.metrics.health.labels(name).set(value)
            if not is_primary and probe.lag_seconds is not None:
                self.metrics.lag_seconds.labels(name).set(probe.lag_seconds)
            if not is_primary and probe.lag_bytes is not None:
                self.metrics.lag_bytes.labels(name).set(probe.lag_bytes)
            try:
                self.store.record_check(
                    name, probe, score=value, role=view.role, status=status,
                    failures=view.failures, mode=self.settings.replication_mode,
                    epoch=epoch if is_primary else None,
                )  # fmt: skip
            except SQLAlchemyError as exc:  # the database cannot take writes: that is news
                log.error("dr.check_not_recorded", region=name, error=str(exc)[:300])
            scores[name] = value
        return scores

    def _epoch(self) -> int | None:
        if self.dcs is None:
            return None
        try:
            return self.dcs.leader().epoch
        except DcsUnavailable:
            return None

    def _observed_failover(self, old: str, new: str) -> None:
        """Patroni promoted NEW on its own (the leader key expired): record what was seen."""
        now = _stamp()
        steps = [
            {"name": "detect", "at": now, "duration_s": 0.0, "detail": f"{new} leads, not {old}"},
            {"name": "promote", "at": now, "duration_s": 0.0, "detail": "by Patroni"},
        ]
        failover_id = uuid.uuid4().hex
        reason = f"Patroni promoted {new} after {old}'s leader key expired"
        self.store.start_failover(failover_id, kind="failover", source=old, target=new,
                                  reason=reason)  # fmt: skip
        self.store.mark(old, status="fenced", role="standby")
        self.dispose_pool()
        self.store.save_steps(failover_id, steps, status="completed")
        self.metrics.failovers.labels("failover", "completed").inc()

    # ------------------------------------------------------------------ failover
    def failover(self, to: str | None, *, reason: str, kind: str = "failover") -> dict[str, Any]:
        """The six steps; the failover_history row (see the module docstring)."""
        if not self.regions:
            raise FailoverRefused("no regions are configured (disaster_recovery.regions)")
        if to is not None and to not in self.regions:
            raise FailoverRefused(
                f"no region {to!r}; configured: {sorted(self.regions)}", status=422
            )
        with self.lock:
            return self._failover(to, reason=reason, kind=kind)

    def failback(self) -> dict[str, Any]:
        """Return the primary role to the region with the lowest priority number."""
        candidates = [Candidate(n, v.settings.priority, v.score) for n, v in self.regions.items()]
        home = home_region(candidates)
        if home is None:
            raise FailoverRefused("no regions are configured (disaster_recovery.regions)")
        return self.failover(home, reason=f"failback to {home}", kind="failback")

    def _failover(self, to: str | None, *, reason: str, kind: str) -> dict[str, Any]:
        source = self.leader() or self.primary
        if source is None:
            raise FailoverRefused("no region leads now (an election is under way?); retry")
        candidates = [Candidate(n, v.settings.priority, v.score) for n, v in self.regions.items()]
        target = to or choose_target(candidates, exclude=source)
        if target is None:
            raise FailoverRefused(f"no healthy standby region to fail over to from {source}")
        if target == source:
            raise FailoverRefused(f"{target} is already the primary region")
        target_region = self.regions[target].settings
        if target_region.patroni is None:
            raise FailoverRefused(f"region {target} has no patroni URL to promote it through")
        failover_id = uuid.uuid4().hex
        with contextlib.suppress(SQLAlchemyError):  # the old primary may refuse: saved later
            self.store.start_failover(failover_id, kind=kind, source=source, target=target,
                                      reason=reason)  # fmt: skip
        steps: list[dict[str, Any]] = []

        def finish(status: str) -> None:
            self._retry(
                lambda: self.store.finish_failover(
                    failover_id, kind=kind, source=source, target=target, reason=reason,
                    steps=steps, status=status,
                )
            )  # fmt: skip

        started = time.monotonic()
        last = started

        def step(name: str, detail: str) -> None:
            nonlocal last
            now = time.monotonic()
            steps.append({"name": name, "at": _stamp(), "duration_s": round(now - last, 3),
                          "detail": detail})  # fmt: skip
            last = now
            with contextlib.suppress(SQLAlchemyError):  # mid-promotion: saved at the end
                self.store.save_steps(failover_id, steps)

        try:
            source_view = self.regions.get(source)
            step("detect", f"{reason}; {source} score {source_view.score if source_view else '?'}")
            with contextlib.suppress(SQLAlchemyError):  # marked again at confirm
                self.store.mark(source, status="fenced", role="standby")
            step("fence", f"{source} fenced: credits writes are acknowledged only on the "
                          "leader-key holder; it stays fenced until it streams again")  # fmt: skip
            self._promote(source, target_region)
            step("promote", f"Patroni made {target} the leader")
            self.dispose_pool()
            self._wait(f"a write on {target}", lambda: self.probe(target_region).writable, 30)
            step("route", f"new connections go to {target}; the write probe commits there")
            detail = self._verify_lag(source)
            step("verify_lag", detail)
            epoch = self._epoch() or 0
            self._retry(
                lambda: self.store.mark(target, role="primary", status="healthy", epoch=epoch)
            )
            self._retry(lambda: self.store.mark(source, status="fenced", role="standby"))
            self.primary = target
            step("confirm", f"{target} is the primary region (epoch {epoch})")
        except Exception as exc:
            finish("failed")
            self.metrics.failovers.labels(kind, "failed").inc()
            log.error("dr.failover_failed", id=failover_id, error=repr(exc))
            raise FailoverRefused(f"{kind} to {target} failed: {exc}", status=503) from exc
        finish("completed")
        self.metrics.failovers.labels(kind, "completed").inc()
        for view in self.regions.values():
            view.failures = 0
        return {"id": failover_id, "kind": kind, "from_region": source, "to_region": target,
                "status": "completed", "rto_s": round(time.monotonic() - started, 3),
                "steps": steps}  # fmt: skip

    def _promote(self, source: str, target: RegionSettings) -> None:
        """Ask Patroni for the leader change: a switchover when the source still answers."""
        assert target.patroni is not None
        source_view = self.regions.get(source)
        healthy = source_view is not None and source_view.probe is not None
        healthy = (
            healthy
            and source_view is not None
            and source_view.probe is not None
            and (source_view.probe.connected)
        )
        # Patroni refuses a candidate that is not a running (in a synchronous mode: the
        # synchronous) standby: wait for it, as after a rejoin.
        self._wait(f"{target.name} to be a candidate", lambda: self._eligible(target), 60)
        path, body = ("/switchover", {"leader": source, "candidate": target.name})
        if not healthy:
            path, body = ("/failover", {"candidate": target.name})
        try:
            http_json(target.patroni + path, method="POST", body=body, timeout=30)
        except OSError as exc:
            if path == "/failover":
                raise
            log.warning("dr.switchover_refused", error=str(exc))
            http_json(target.patroni + "/failover", method="POST",
                      body={"candidate": target.name}, timeout=30)  # fmt: skip
        self._wait(f"{target.name} to lead", lambda: self.leader() == target.name, 60)

    def _eligible(self, target: RegionSettings) -> bool:
        """Whether Patroni lists TARGET as a running standby it may promote (in a synchronous
        mode, only the synchronous standby may be chosen)."""
        assert target.patroni is not None
        try:
            cluster = http_json(target.patroni + "/cluster")
        except OSError:
            return False
        wanted = {"sync_standby"}
        if self.settings.replication_mode == "async":
            wanted.add("replica")
        return any(
            m.get("name") == target.name
            and m.get("role") in wanted
            and m.get("state") in ("running", "streaming")
            for m in cluster.get("members", [])
        )

    def _verify_lag(self, source: str) -> str:
        view = self.regions.get(source)
        if view is None:
            return f"{source} is not a configured region"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = self.probe(view.settings)
            if probe.connected and not probe.writable:
                lag = self._sender_lag(self.regions[self.leader() or source].settings).get(source)
                if lag is not None and lag <= MAX_REJOIN_LAG_BYTES:
                    return f"{source} streams again, {lag} bytes behind"
            time.sleep(0.5)
        return f"{source} has not rejoined yet: it stays fenced until it streams again"

    @staticmethod
    def _retry(write: Callable[[], None], timeout: float = 30.0) -> None:
        """WRITE to the DR tables, retried while the database changes hands."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                write()
                return
            except SQLAlchemyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @staticmethod
    def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise TimeoutError(f"{what}: not reached within {timeout:g} s")

    # ------------------------------------------------------------------ configuration
    def apply_mode(self) -> bool:
        """Set Patroni's dynamic configuration to the configured replication mode."""
        body = patroni_dynamic_config(self.settings.replication_mode)
        for view in self.regions.values():
            if view.settings.patroni is None:
                continue
            try:
                http_json(view.settings.patroni + "/config", method="PATCH", body=body)
                return True
            except OSError as exc:
                log.warning("dr.apply_mode_failed", region=view.settings.name, error=str(exc))
        return False

    def status(self) -> dict[str, Any]:
        """Regions with their last scores, the leader, the mode, and the latest failovers."""
        rows = {r["name"]: r for r in self.store.regions()}
        regions = []
        for name, view in self.regions.items():
            row = rows.get(name, {})
            probe = view.probe
            regions.append({
                "name": name, "provider": view.settings.provider,
                "priority": view.settings.priority, "role": row.get("role", view.role),
                "status": row.get("status", "unknown"),
                "health_score": row.get("health_score", view.score),
                "consecutive_failures": view.failures, "epoch": row.get("epoch", 0),
                "lag_bytes": probe.lag_bytes if probe else None,
                "lag_seconds": probe.lag_seconds if probe else None,
            })  # fmt: skip
        return {
            "replication_mode": self.settings.replication_mode,
            "auto_failover": self.settings.auto_failover,
            "failover_threshold": self.settings.failover_threshold,
            "health_check_interval_s": self.settings.health_check_interval.total_seconds(),
            "rto_target_s": self.settings.rto.total_seconds(),
            "rpo_target_s": self.settings.rpo.total_seconds(),
            "primary": self.leader() or self.primary,
            "regions": regions,
            "history": self.store.history(limit=10),
        }


def _stamp() -> str:
    return datetime.now(UTC).isoformat()
