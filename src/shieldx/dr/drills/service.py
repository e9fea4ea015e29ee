"""Run a drill: a credits service on the HA database, a load that logs what was acknowledged,
a SIGKILL of the primary, then RTO, RPO and the ledger check.

The service runs as a real `shieldx serve credits` subprocess configured with the lab's
multi-host URL and write fence. Each load thread sends purchases of 1 credit with a fresh
Idempotency-Key and retries the SAME key after a 503 or a lost connection, as a client
must; a key counts as acknowledged when a 2xx arrives. Afterwards every idempotency key's
events are counted in the ledger (on the new primary): RPO is the number of acknowledged
keys with no event, and a key with two events would break exactly-once.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from shieldx.dr.drills.domain import DrillReport, reconcile, steps_from
from shieldx.dr.lab.service import Lab, wait_for
from shieldx.platform.loadgen import spawn_server

Kill = Literal["postmaster", "region"]


class DrillError(RuntimeError):
    """The drill could not run (the message says why)."""


@dataclass
class LoadLog:
    """What the load threads sent and which keys came back acknowledged (and when)."""

    sent: set[str] = field(default_factory=set)
    acked: dict[str, float] = field(default_factory=dict)
    first_error: float | None = None
    refused: int = 0
    fatal: str | None = None
    # When the attempt that was acknowledged was sent: RTO counts only attempts sent after
    # the kill (one sent before may have committed on the old primary just before it died).
    attempted: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _load(
    url: str, key: str, account: str, prefix: str, log: LoadLog, stop: threading.Event
) -> None:
    """Purchase 1 credit at a time, retrying each Idempotency-Key until acknowledged."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            n += 1
            idem = f"{prefix}-{n}"
            with log.lock:
                log.sent.add(idem)
            while not stop.is_set():
                attempt = time.monotonic()
                try:
                    answer = client.post(
                        "/credits/purchase",
                        json={"account_id": account, "amount": 1, "tenant": "drill"},
                        headers={"Idempotency-Key": idem},
                    )
                    ok = 200 <= answer.status_code < 300
                    if 400 <= answer.status_code < 500:  # a bug of the drill, not a failover
                        with log.lock:
                            log.fatal = f"{answer.status_code}: {answer.text[:300]}"
                        stop.set()
                        return
                except httpx.HTTPError:
                    ok = False
                if ok:
                    with log.lock:
                        log.acked[idem] = time.monotonic()
                        log.attempted[idem] = attempt
                    break
                with log.lock:
                    log.refused += 1
                    if log.first_error is None:
                        log.first_error = time.monotonic()
                time.sleep(0.05)  # a client's retry pause, not synchronisation


def _server_env(lab: Lab) -> dict[str, str]:
    return {
        "SHIELDX_DATABASE_URL": lab.database_url,
        "SHIELDX_DISASTER_RECOVERY_ETCD": lab.etcd_url,
        "SHIELDX_DISASTER_RECOVERY_REPLICATION_MODE": lab.mode,
        "SHIELDX_LOGGING_LEVEL": "warning",
    }


def _ledger_counts(lab: Lab, account: str) -> dict[str, int]:
    """Events per idempotency key of ACCOUNT, read on the current leader."""
    import psycopg

    leader = lab.region(_wait_leader(lab, timeout=60))
    with psycopg.connect(
        host="127.0.0.1", port=leader.pg_port, dbname="shieldx", user="postgres"
    ) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, count(*) FROM event_store"
            " WHERE account_id = %s AND type = 'credits_purchased'"
            " AND idempotency_key IS NOT NULL GROUP BY idempotency_key",
            (account,),
        ).fetchall()
    return {str(k): int(n) for k, n in rows}


def _wait_leader(lab: Lab, *, timeout: float) -> str:
    leader: str = wait_for("a leader", lab.leader, timeout=timeout, log=lab.dir)
    return leader


def _admin_key(lab: Lab, data_dir: Path) -> str:
    """A fresh admin key in the lab's database (`shieldx keys create`)."""
    env = {**os.environ, **_server_env(lab), "SHIELDX_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "shieldx", "keys", "create", "--role", "admin", "--name", "drill",
         "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise DrillError(f"could not create an admin key: {done.stderr.strip()[-500:]}")
    key: str = json.loads(done.stdout)["key"]
    return key


def _verify(lab: Lab, data_dir: Path) -> bool:
    """`shieldx credits verify` against the lab's database: the hash chain is intact."""
    env = {**os.environ, **_server_env(lab), "SHIELDX_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "shieldx", "credits", "verify", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode == 0


def run_drill(
    lab: Lab,
    *,
    kill: Kill = "postmaster",
    threads: int = 4,
    warmup_s: float = 2.0,
    after_s: float = 2.0,
    timeout_s: float = 60.0,
) -> DrillReport:
    """Kill the primary under load; measure and reconcile (see the module docstring)."""
    lab.wait_healthy(timeout=90)
    old = _wait_leader(lab, timeout=30)
    run = secrets.token_hex(4)
    account = f"drill-{run}"
    log = LoadLog()
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="shieldx-drill-") as tmp:
        data_dir = Path(tmp)
        admin = _admin_key(lab, data_dir)
        with spawn_server(
            ["serve", "credits", "--port", "0"],
            data_dir=data_dir,
            admin_key=admin,
            env=_server_env(lab),
        ) as server:
            url = server.urls["credits"]
            workers = [
                threading.Thread(
                    target=_load, args=(url, admin, account, f"{run}-{i}", log, stop), daemon=True
                )
                for i in range(threads)
            ]
            started = time.monotonic()
            for worker in workers:
                worker.start()
            wait_for("the first acknowledged write", lambda: log.acked or log.fatal, timeout=30)
            if log.fatal:
                raise DrillError(f"the credits service refused the drill's load: {log.fatal}")
            time.sleep(warmup_s)  # a steady load before the kill (a measured interval)
            with log.lock:
                before = len(log.acked)
                log.first_error = None
            kill_at = time.monotonic()
            if kill == "postmaster":
                lab.kill_postmaster(old)
            else:
                lab.kill_region(old)
            promoted_at: float | None = None
            routed_at: float | None = None
            deadline = kill_at + timeout_s
            while time.monotonic() < deadline and (promoted_at is None or routed_at is None):
                if promoted_at is None:
                    try:
                        leader = lab.leader()
                    except Exception:
                        leader = None
                    if leader is not None and leader != old:
                        promoted_at = time.monotonic()
                if routed_at is None and promoted_at is not None:
                    # On the new primary: an attempt sent once the new leader was seen. (The
                    # killed postmaster's orphaned backends may still commit for a moment.)
                    with log.lock:
                        after = [t for k, t in log.acked.items() if log.attempted[k] > promoted_at]
                    if after:
                        routed_at = min(after)
                time.sleep(0.05)
            time.sleep(after_s)  # load on the new primary (a measured interval)
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
            elapsed = time.monotonic() - started
        if kill == "region":
            lab.start_patroni(old)  # the region comes back; Patroni rejoins it as a replica
        rejoined_at: float | None = None
        try:
            lab.wait_healthy(timeout=90)
            rejoined_at = time.monotonic()
        except Exception:
            rejoined_at = None
        counts = _ledger_counts(lab, account)
        verified = _verify(lab, data_dir)
        confirmed_at = time.monotonic()
    result = reconcile(set(log.acked), counts, log.sent)
    acks = sorted(t for t in log.acked.values() if t >= kill_at - 1)
    gap = max((b - a for a, b in itertools.pairwise(acks)), default=0.0)
    new = lab.leader()

    def rel(t: float | None) -> float | None:
        return None if t is None else t - kill_at

    steps = steps_from(
        [
            ("kill", 0.0),
            ("detect", rel(log.first_error)),
            ("promote", rel(promoted_at)),
            ("route", rel(routed_at)),
            ("rejoin", rel(rejoined_at)),
            ("confirm", rel(confirmed_at)),
        ]
    )
    return DrillReport(
        mode=lab.mode,
        kill=kill,
        rto_s=rel(routed_at),
        rpo_ops=len(result.missing),
        acknowledged_ops=result.acknowledged,
        duplicated_ops=len(result.duplicated),
        steps=steps,
        ledger_verified=verified,
        old_primary=old,
        new_primary=new,
        refused_ops=log.refused,
        throughput_ops_s=len(log.acked) / elapsed if elapsed else 0.0,
        extra={
            "acknowledged_before_kill": before,
            "longest_write_gap_s": round(gap, 3),
            "missing_keys": result.missing[:20],
        },
    )


def _window(url: str, admin: str, seconds: float, threads: int) -> float:
    """Acknowledged purchases per second over SECONDS of load (no kill)."""
    log = LoadLog()
    stop = threading.Event()
    run = secrets.token_hex(4)
    workers = [
        threading.Thread(
            target=_load, args=(url, admin, f"bench-{run}", f"{run}-{i}", log, stop), daemon=True
        )
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    wait_for("the first acknowledged write", lambda: log.acked or log.fatal, timeout=30)
    with log.lock:
        before = len(log.acked)
    started = time.monotonic()
    time.sleep(seconds)  # the measured interval
    with log.lock:
        done = len(log.acked) - before
    elapsed = time.monotonic() - started
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    if log.fatal:
        raise DrillError(f"the credits service refused the benchmark's load: {log.fatal}")
    return done / elapsed


def bench_modes(lab: Lab, *, seconds: float = 8.0, threads: int = 4) -> dict[str, Any]:
    """Credits write throughput in each replication mode against a single node (same run,
    same server settings: the lab's leader with the standby region stopped)."""
    lab.wait_healthy()
    leader = _wait_leader(lab, timeout=30)
    standby = next(r.name for r in lab.regions if r.name != leader)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="shieldx-drbench-") as tmp:
        data_dir = Path(tmp)
        admin = _admin_key(lab, data_dir)
        with spawn_server(
            ["serve", "credits", "--port", "0"],
            data_dir=data_dir,
            admin_key=admin,
            env=_server_env(lab),
        ) as server:
            url = server.urls["credits"]
            lab.set_mode("async")
            lab.wait_healthy()
            lab.kill_region(standby)  # a single node: no WAL shipped, nothing waited for
            results["single_node"] = _window(url, admin, seconds, threads)
            lab.start_patroni(standby)
            lab.wait_healthy()
            for mode in ("async", "semi_sync", "sync"):
                lab.set_mode(mode)
                lab.wait_healthy()
                results[mode] = _window(url, admin, seconds, threads)
    reference = results["single_node"]
    return {
        "seconds_per_mode": seconds,
        "threads": threads,
        "reference": "single node (the same server, standby region stopped)",
        "ops_per_s": {k: round(v, 1) for k, v in results.items()},
        "ratio_to_single_node": {
            k: round(v / reference, 3) for k, v in results.items() if k != "single_node"
        },
    }
