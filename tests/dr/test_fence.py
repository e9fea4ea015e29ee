"""The split-brain trap and ShieldX's own fence against it.

Killing only the leader's Patroni (no watchdog here) leaves its PostgreSQL read-write while
the other member is promoted: two primaries. ShieldX must then neither route writes to the
old one nor acknowledge a write committed there.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from shieldx.credits.store.postgres import PostgresCommitStore
from shieldx.credits.store.records import StoreUnavailable
from shieldx.dr.lab.service import Lab, wait_for
from shieldx.platform.dcs import PatroniDcs


def _read_write(lab: Lab, name: str) -> bool:
    port = lab.region(name).pg_port
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as c:
        row = c.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row is not None
    return not row[0]


def test_old_primary_with_dead_patroni_is_fenced_until_it_rejoins(lab: Lab) -> None:
    lab.set_mode("async")  # in sync mode commits on the old primary hang instead
    lab.wait_healthy()
    old = lab.leader()
    assert old is not None
    lab.kill_patroni(old)
    new = wait_for("a promoted member", lambda: (lab.leader() or old) != old and lab.leader(),
                   timeout=60)  # fmt: skip
    assert new != old
    wait_for("the promoted member to accept writes", lambda: _read_write(lab, new), timeout=30)
    assert _read_write(lab, old)  # the trap is real: two primaries

    # ShieldX's routing: the leader key, not "whichever host is writable first".
    leader = PatroniDcs(lab.etcd_url, "shieldx-dr").leader()
    assert (leader.name, leader.port) == (new, lab.region(new).pg_port)

    # ShieldX's fence: a commit store on the old primary refuses to acknowledge.
    config: dict[str, Any] = {
        "backend": "postgresql",
        "target": f"host=127.0.0.1 port={lab.region(old).pg_port} user=postgres dbname=shieldx",
        "fence": {"etcd": lab.etcd_url, "scope": "shieldx-dr"},
    }
    stale = PostgresCommitStore(psycopg.connect(config["target"], autocommit=False))
    stale.config = config
    with pytest.raises(StoreUnavailable, match="fenced"):
        stale.confirm()
    assert stale.broken()  # dropped: the next commit reconnects...
    stale.reconnect()
    assert stale.conn.info.port == lab.region(new).pg_port  # ...to the leader
    stale.confirm()
    stale.conn.close()

    # The old region comes back: Patroni demotes and rejoins it; only then may it lead again.
    lab.start_patroni(old)
    wait_for(f"{old} back as a replica", lambda: _in_recovery(lab, old), timeout=90)
    lab.wait_healthy()


def _in_recovery(lab: Lab, name: str) -> bool:
    try:
        return not _read_write(lab, name)
    except psycopg.OperationalError:  # being restarted as a replica
        return False
