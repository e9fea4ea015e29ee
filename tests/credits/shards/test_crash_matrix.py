"""The cross-shard transfer protocol killed (SIGKILL) at every step, then restarted.

`shieldx serve credits` runs as a real process on two SQLite shards; SHIELDX_TEST_CRASH_AT
makes it kill itself at one step of a transfer. After a restart (recovery runs at start-up)
the transfer is applied on both shards or on neither, its answer replays, no hold is left,
nothing is left unfinished and every shard's chain verifies.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shieldx.credits.shards.domain import Ring
from shieldx.credits.shards.service import CRASH_STEPS
from shieldx.platform.loadgen import free_port, spawn_server

RING = Ring(("shard-0", "shard-1"), 256)
SOURCE = "acct-0"
TARGET = next(a for a in (f"acct-{n}" for n in range(1, 50)) if RING.shard_of("t", a) != RING.shard_of("t", SOURCE))  # fmt: skip
#: Killed before the decision was recorded: aborted. After it: committed.
COMMITTED = {"committed", "debited", "credited"}
ENV = {
    "SHIELDX_SHARDING_NUM_SHARDS": "2",
    "SHIELDX_LOGGING_LEVEL": "warning",
    "SHIELDX_TESTING": "1",
    # The writer in a thread: the protocol, not the commit process, is under test here
    # (tests/credits/writer/test_crash.py kills commit processes).
    "SHIELDX_CREDITS_COMMIT_PROCESS": "false",
}


def _post(base: str, key: str, path: str, body: dict[str, Any], idem: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idem}
    return httpx.post(base + path, json=body, headers=headers, timeout=30)


def _get(base: str, key: str, path: str) -> dict[str, Any]:
    response = httpx.get(base + path, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_a_transfer_killed_at_any_step_is_all_or_nothing_after_restart(
    step: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    admin = f"shx_crash_{secrets.token_urlsafe(24)}"
    args = ["serve", "credits", "--port", str(free_port())]
    transfer = {"tenant": "t", "from_account": SOURCE, "to_account": TARGET, "amount": 30, "reason": "move"}  # fmt: skip
    crashing = {**ENV, "SHIELDX_TEST_CRASH_AT": step}
    with spawn_server(args, data_dir=data_dir, admin_key=admin, env=crashing) as server:
        base = server.urls["credits"]
        bought = _post(base, admin, "/credits/purchase", {"tenant": "t", "account_id": SOURCE, "amount": 100}, "buy")  # fmt: skip
        assert bought.status_code == 201, bought.text
        with pytest.raises(httpx.TransportError):  # the process dies mid-request
            _post(base, admin, "/credits/transfer", transfer, "move-1")
        assert server.process.wait(30) == -signal.SIGKILL
    with spawn_server(args, data_dir=data_dir, admin_key=admin, env=ENV) as server:
        base = server.urls["credits"]
        # Recovery ran at start-up: the same key now gets the transfer's definitive answer.
        answer = _post(base, admin, "/credits/transfer", transfer, "move-1")
        source = _get(base, admin, f"/credits/balance/{SOURCE}?tenant=t")
        target = _get(base, admin, f"/credits/balance/{TARGET}?tenant=t")
        if step in COMMITTED:
            assert answer.status_code == 200, answer.text
            assert (answer.json()["from"]["balance"], answer.json()["to"]["balance"]) == (70, 30)
            assert (source["balance"], target["balance"]) == (70, 30)
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["type"].endswith("transfer-aborted")
            assert source["balance"] == 100
            assert target.get("balance", 0) == 0  # never credited (the account may not exist)
        assert source["held"] == 0 and source["available"] == source["balance"]
        verified = httpx.post(
            base + "/credits/audit/verify",
            json={},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        ).json()
        assert verified["ok"], verified
        again = _post(base, admin, "/credits/transfer", transfer, "move-2")
        assert again.status_code == 200, again.text  # the ledger works on after recovery
    status = _status(data_dir)
    assert status["transfers"] == {"done": 2}
    assert [s["name"] for s in status["shards"]] == ["shard-0", "shard-1"]


def _status(data_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIELDX_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "shieldx",
            "shards",
            "status",
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "SHIELDX_SHARDING_NUM_SHARDS": "2", "SHIELDX_LOGGING_LEVEL": "warning"},
        check=True,
    )
    result: dict[str, Any] = orjson.loads(done.stdout)
    return result
