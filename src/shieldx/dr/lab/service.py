"""Start and stop the lab: a single-node etcd and one Patroni-managed PostgreSQL per region.

Every process runs in the lab's own directory on loopback ports; Patroni and PostgreSQL run
as the `postgres` user (PostgreSQL refuses root), each member with a private socket
directory. `lab.json` in the directory records what runs, so `down` (and drills) find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldx.dr.lab.domain import (
    SCOPE,
    LabRegion,
    Mode,
    database_url,
    patroni_config,
    replication_dcs,
)
from shieldx.dr.patroni import http_json

STATE = "lab.json"
# The lab's processes outlive the Popen objects that started them (`lab up` returns while
# they run): kept here so that they are not collected while running, reaped by down().
_CHILDREN: dict[Path, list[subprocess.Popen[bytes]]] = {}
PROVIDERS = ("lab-east", "lab-west")


class LabError(RuntimeError):
    """The lab could not be started (the message says which part and where its log is)."""


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: str, check: Any, *, timeout: float, log: Path | None = None) -> Any:
    """Poll CHECK until it returns a truthy value; LabError naming WHAT after TIMEOUT s."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, ValueError, LabError) as exc:  # not up yet
            last = exc
            value = None
        if value:
            return value
        time.sleep(0.2)
    where = f"; see {log}" if log else ""
    raise LabError(f"{what} not ready after {timeout:.0f} s ({last!r}){where}")


@dataclass
class Lab:
    """A running (or recorded) lab: its directory, etcd and regions."""

    dir: Path
    mode: Mode
    etcd_port: int
    regions: list[LabRegion]
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def etcd_url(self) -> str:
        """The etcd client URL."""
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def database_url(self) -> str:
        """ShieldX's database.url for the lab (multi-host, read-write target)."""
        return database_url(self.regions, "shieldx")

    def region(self, name: str) -> LabRegion:
        """The region called NAME."""
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(f"no lab region {name!r} (have {[r.name for r in self.regions]})")

    def describe(self) -> dict[str, Any]:
        """What `shieldx dr lab up --json` prints."""
        return {
            "dir": str(self.dir),
            "mode": self.mode,
            "database_url": self.database_url,
            "etcd": self.etcd_url,
            "scope": SCOPE,
            "regions": [r.as_dict() for r in self.regions],
        }

    def save(self) -> None:
        """Record the lab in DIR/lab.json."""
        state = {**self.describe(), "etcd_port": self.etcd_port, "pids": self.pids}
        state["regions"] = [vars(r) for r in self.regions]
        (self.dir / STATE).write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, directory: Path) -> Lab:
        """The lab recorded in DIRECTORY."""
        state = json.loads((directory / STATE).read_text())
        return cls(
            dir=directory,
            mode=state["mode"],
            etcd_port=state["etcd_port"],
            regions=[LabRegion(**r) for r in state["regions"]],
            pids={k: int(v) for k, v in state["pids"].items()},
        )

    # ------------------------------------------------------------------ processes
    def postmaster_pid(self, name: str) -> int | None:
        """The pid of REGION's postmaster, from its postmaster.pid (None when not running)."""
        path = self.region(name).dir(self.dir) / "data" / "postmaster.pid"
        try:
            pid = int(path.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start_patroni(self, name: str) -> None:
        """Start (or restart) the Patroni member of region NAME."""
        region = self.region(name)
        home = region.dir(self.dir)
        log = open(home / "patroni.out", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            ["/usr/bin/patroni", str(home / "patroni.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=home,
            user="postgres",
            group="postgres",
            start_new_session=True,
        )
        log.close()
        _CHILDREN.setdefault(self.dir, []).append(process)
        self.pids[f"patroni:{name}"] = process.pid
        self.save()

    def kill_postmaster(self, name: str) -> int:
        """SIGKILL region NAME's postmaster (Patroni lives on); its pid."""
        pid = self.postmaster_pid(name)
        if pid is None:
            raise LabError(f"region {name}'s PostgreSQL is not running")
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_region(self, name: str) -> None:
        """SIGKILL the whole region NAME: its Patroni and its PostgreSQL."""
        postmaster = self.postmaster_pid(name)
        patroni = self.pids.get(f"patroni:{name}")
        for pid in (patroni, postmaster):
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if postmaster is not None:
            _reap_group(postmaster)

    def heal(self) -> None:
        """Start the Patroni of every region whose Patroni is not running."""
        for region in self.regions:
            pid = self.pids.get(f"patroni:{region.name}")
            if pid is None or not _alive(pid):
                self.start_patroni(region.name)

    def _any_member(self, path: str, *, method: str = "GET", body: Any = None) -> Any:
        last: BaseException | None = None
        for region in self.regions:
            try:
                url = f"http://127.0.0.1:{region.api_port}{path}"
                return http_json(url, method=method, body=body)
            except OSError as exc:
                last = exc
        raise LabError(f"no Patroni member answers ({last!r})")

    def cluster(self) -> dict[str, Any]:
        """Patroni's view of the cluster, from the first member that answers."""
        answer: dict[str, Any] = self._any_member("/cluster")
        return answer

    def leader(self) -> str | None:
        """The name of the region whose member leads (None during an election)."""
        members = self.cluster().get("members", [])
        for member in members:
            if member.get("role") == "leader" and member.get("state") == "running":
                return str(member["name"])
        return None

    def healthy(self, *, replicas: int) -> bool:
        """A running leader and REPLICAS running replicas (sync standby in a sync mode)."""
        members = self.cluster().get("members", [])
        leaders = [m for m in members if m.get("role") == "leader" and m["state"] == "running"]
        wanted = {"sync_standby"} if self.mode != "async" else {"replica", "sync_standby"}
        standbys = [
            m
            for m in members
            if m.get("role") in wanted and m.get("state") in ("running", "streaming")
        ]
        return len(leaders) == 1 and len(standbys) >= replicas

    def set_mode(self, mode: Mode) -> None:
        """Switch the replication mode in Patroni's dynamic configuration (no restart)."""
        patch = replication_dcs(mode)
        self._any_member("/config", method="PATCH", body=patch)
        self.mode = mode
        self.save()

    def kill_patroni(self, name: str) -> int:
        """SIGKILL only region NAME's Patroni: its PostgreSQL keeps running (the split-brain
        trap: without a watchdog it stays read-write while another member is promoted)."""
        pid = self.pids[f"patroni:{name}"]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_healthy(self, *, timeout: float = 150.0) -> None:
        """Wait until the leader runs and every other region streams from it."""
        wait_for(
            "the lab cluster",
            lambda: self.healthy(replicas=len(self.regions) - 1),
            timeout=timeout,
            log=self.dir,
        )


def _alive(pid: int) -> bool:
    for children in _CHILDREN.values():  # reap our own exited children
        for child in children:
            if child.pid == pid:
                child.poll()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own exited child) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _reap_group(pid: int) -> None:
    """SIGKILL what is left of PID's process group (backends of a killed postmaster)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)


def up(directory: Path, *, mode: Mode = "sync", ttl: int = 10) -> Lab:
    """Start etcd and both regions in DIRECTORY (which must not hold a lab); the running lab."""
    for tool in ("/usr/bin/patroni", "/usr/bin/etcd", "/usr/lib/postgresql/15/bin/postgres"):
        if not Path(tool).exists():
            raise LabError(f"{tool} is missing: run scripts/install-system-deps")
    if (directory / STATE).exists():
        raise LabError(f"{directory} already holds a lab: run `shieldx dr lab down` first")
    directory.mkdir(parents=True, exist_ok=True)
    for parent in directory.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise LabError(
                f"{parent} is not searchable by others: the postgres user cannot reach "
                f"{directory} (chmod o+x {parent}, or choose another --dir)"
            )
    try:
        return _start(directory, mode=mode, ttl=ttl)
    except BaseException:
        down(directory)
        raise


def _start(directory: Path, *, mode: Mode, ttl: int) -> Lab:
    postgres = pwd.getpwnam("postgres")
    regions = [
        LabRegion(f"region-{letter}", PROVIDERS[i], 10 * (i + 1), free_port(), free_port())
        for i, letter in enumerate("ab")
    ]
    lab = Lab(dir=directory, mode=mode, etcd_port=free_port(), regions=regions)
    peer = free_port()
    (directory / "etcd").mkdir(exist_ok=True)
    etcd_log = open(directory / "etcd.out", "ab")  # noqa: SIM115 - handed to the child
    etcd = subprocess.Popen(
        [
            "/usr/bin/etcd",
            "--name=lab",
            f"--data-dir={directory / 'etcd'}",
            f"--listen-client-urls={lab.etcd_url}",
            f"--advertise-client-urls={lab.etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=lab=http://127.0.0.1:{peer}",
            "--log-level=warn",
        ],
        stdout=etcd_log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    etcd_log.close()
    _CHILDREN.setdefault(directory, []).append(etcd)
    lab.pids["etcd"] = etcd.pid
    lab.save()
    wait_for(
        "etcd",
        lambda: http_json(f"{lab.etcd_url}/health").get("health") == "true",
        timeout=20,
        log=directory / "etcd.out",
    )
    for region in regions:
        home = region.dir(directory)
        (home / "sock").mkdir(parents=True, exist_ok=True)
        (home / "log").mkdir(exist_ok=True)
        config = patroni_config(region, root=directory, etcd_port=lab.etcd_port, mode=mode, ttl=ttl)
        (home / "patroni.yml").write_text(json.dumps(config, indent=2))
        for path in (home, home / "sock", home / "log", home / "patroni.yml"):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
    os.chown(directory, postgres.pw_uid, postgres.pw_gid)
    first = regions[0].name
    lab.start_patroni(first)
    wait_for(
        f"{first} (bootstrap)",
        lambda: lab.leader() == first,
        timeout=60,
        log=regions[0].dir(directory) / "patroni.out",
    )
    for region in regions[1:]:
        lab.start_patroni(region.name)
    lab.wait_healthy()
    _create_database(lab, "shieldx")
    return lab


def _create_database(lab: Lab, name: str) -> None:
    """CREATE DATABASE NAME on the leader (through psql, as the lab's superuser)."""
    leader = lab.region(lab.leader() or lab.regions[0].name)
    subprocess.run(
        [
            "/usr/lib/postgresql/15/bin/psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(leader.pg_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            f'CREATE DATABASE "{name}"',
        ],
        check=True,
        capture_output=True,
    )


def down(directory: Path) -> bool:
    """Stop every process of the lab in DIRECTORY and remove it; False if none was there."""
    if not (directory / STATE).exists():
        return False
    lab = Lab.load(directory)
    postmasters = [lab.postmaster_pid(r.name) for r in lab.regions]
    for key, pid in lab.pids.items():
        if key.startswith("patroni:") and _alive(pid):
            os.kill(pid, signal.SIGKILL)
    for postmaster in postmasters:
        if postmaster is not None:
            os.kill(postmaster, signal.SIGKILL)
            _reap_group(postmaster)
    etcd = lab.pids.get("etcd")
    if etcd is not None and _alive(etcd):
        os.kill(etcd, signal.SIGKILL)
    deadline = time.monotonic() + 10
    pids = [p for p in (*lab.pids.values(), *postmasters) if p is not None]
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in _CHILDREN.pop(directory, []):  # started here: kill what is left, reap
        if child.poll() is None:
            child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)
    return True
