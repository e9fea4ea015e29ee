"""The lab's Patroni and etcd configuration, as data (no I/O).

Both regions are members of ONE Patroni cluster (scope `shieldx-dr`): the member of the
primary region leads, the other replicates from it by streaming replication and is the
synchronous standby in `sync` and `semi_sync` mode. Patroni promotes it when the leader's
key expires (ttl), which is what makes cross-region failover automatic. The timings are the
ones measured on this kind of machine (docs/operations.md, "Patroni settings").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shieldx.dr.failover.domain import patroni_dynamic_config

Mode = Literal["sync", "semi_sync", "async"]
MODES: tuple[Mode, ...] = ("sync", "semi_sync", "async")
SCOPE = "shieldx-dr"
BIN_DIR = "/usr/lib/postgresql/15/bin"


@dataclass(frozen=True)
class LabRegion:
    """One region of the lab: a Patroni member with its PostgreSQL port and REST port."""

    name: str
    provider: str
    priority: int
    pg_port: int
    api_port: int

    def dir(self, root: Path) -> Path:
        """The region's own directory under the lab's."""
        return root / self.name

    def as_dict(self) -> dict[str, Any]:
        """The region as `disaster_recovery.regions` lists it."""
        return {
            "name": self.name,
            "provider": self.provider,
            "priority": self.priority,
            "hosts": [f"127.0.0.1:{self.pg_port}"],
            "patroni": f"http://127.0.0.1:{self.api_port}",
        }


def replication_dcs(mode: Mode) -> dict[str, Any]:
    """Patroni's dynamic configuration for MODE (see failover.domain.patroni_dynamic_config)."""
    return patroni_dynamic_config(mode)


def patroni_config(
    region: LabRegion, *, root: Path, etcd_port: int, mode: Mode, ttl: int = 10
) -> dict[str, Any]:
    """The Patroni configuration of REGION's member (written as JSON, which is YAML)."""
    home = region.dir(root)
    trust = [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        "host replication all 127.0.0.1/32 trust",
    ]
    dcs = replication_dcs(mode)
    dcs_parameters = {
        "wal_log_hints": "on",
        "wal_keep_size": "1GB",
        "max_wal_senders": 10,
        "max_replication_slots": 10,
        "hot_standby": "on",
        **dcs["postgresql"]["parameters"],
    }
    return {
        "scope": SCOPE,
        "name": region.name,
        "log": {"level": "WARNING", "dir": str(home / "log")},
        "restapi": {
            "listen": f"127.0.0.1:{region.api_port}",
            "connect_address": f"127.0.0.1:{region.api_port}",
        },
        "etcd3": {"hosts": f"127.0.0.1:{etcd_port}"},
        "bootstrap": {
            "dcs": {
                "ttl": ttl,
                "loop_wait": 2,
                "retry_timeout": 5,
                "maximum_lag_on_failover": 1_048_576,
                "master_start_timeout": 0,
                "synchronous_mode": dcs["synchronous_mode"],
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": dcs_parameters,
                    "pg_hba": trust,
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{region.pg_port}",
            "connect_address": f"127.0.0.1:{region.pg_port}",
            "data_dir": str(home / "data"),
            "bin_dir": BIN_DIR,
            "pgpass": str(home / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": "postgres"},
                "replication": {"username": "replicator", "password": "replicator"},
                "rewind": {"username": "postgres", "password": "postgres"},
            },
            "parameters": {"unix_socket_directories": str(home / "sock")},
            "pg_hba": trust,
        },
        "tags": {"region": region.name, "provider": region.provider},
    }


def database_url(regions: list[LabRegion], database: str = "postgres") -> str:
    """The libpq multi-host URL ShieldX uses: every region's host, the writable one wins."""
    hosts = "&".join(f"host=127.0.0.1:{r.pg_port}" for r in regions)
    return (
        f"postgresql+psycopg://postgres@/{database}?{hosts}"
        "&target_session_attrs=read-write&connect_timeout=2"
    )
