"""Two real `shieldx serve locator` processes on one database: revocation, rotation, retirement."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from shieldx.locator.tokens.jws import b64url_decode
from shieldx.platform.loadgen import free_port, spawn_server

ISSUER = "https://locator.shared.test"


def _kid(token: str) -> str:
    return str(orjson.loads(b64url_decode(token.split(".")[0]))["kid"])


def test_two_processes_share_revocations_and_keys(backend_url: str, tmp_path: Path) -> None:
    admin = "shx_test_" + secrets.token_urlsafe(24)
    env = {
        "SHIELDX_LOCATOR_ISSUER": ISSUER,
        "SHIELDX_DATABASE_URL": backend_url,
        "SHIELDX_LOGGING_LEVEL": "warning",
    }
    auth = {"Authorization": f"Bearer {admin}"}
    data = tmp_path / "data"

    def serve() -> object:
        args = ["serve", "locator", "--port", str(free_port())]
        return spawn_server(args, data_dir=data, admin_key=admin, env=env)

    with serve() as a, serve() as b:  # type: ignore[attr-defined]
        url_a, url_b = a.urls["locator"], b.urls["locator"]

        def introspect(url: str, token: str) -> dict[str, object]:
            response = httpx.post(url + "/introspect", data={"token": token}, headers=auth)
            response.raise_for_status()
            doc: dict[str, object] = response.json()
            return doc

        def issue(url: str) -> str:
            body = {"subject": "u", "audience": "api", "tenant": "acme"}
            response = httpx.post(url + "/issue", json=body, headers=auth)
            response.raise_for_status()
            return str(response.json()["access_token"])

        token = issue(url_a)
        assert introspect(url_b, token)["active"] is True  # B has verified and cached it

        # Revoked in A: B's very next request says inactive.
        httpx.post(url_a + "/revoke", data={"token": token}, headers=auth).raise_for_status()
        assert introspect(url_b, token) == {"active": False}

        # Rotated in A: B verifies the new key's tokens and still the old key's.
        old = issue(url_b)
        rotated = httpx.post(url_a + "/admin/keys/rotate", headers=auth)
        rotated.raise_for_status()
        new = issue(url_a)
        assert _kid(new) == rotated.json()["kid"] != _kid(old)
        assert introspect(url_b, new)["active"] is True
        assert introspect(url_b, old)["active"] is True
        assert _kid(issue(url_b)) == _kid(new)  # B signs with the new key too

        # Retired from the command line: both processes refuse the old key at once.
        retire = subprocess.run(
            [sys.executable, "-m", "shieldx", "locator", "keys", "retire", "--", _kid(old)],
            env={**os.environ, **env, "SHIELDX_DATA_DIR": str(data)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert retire.returncode == 0, retire.stderr
        for url in (url_a, url_b):
            assert introspect(url, old) == {"active": False}
            assert introspect(url, new)["active"] is True
            kids = [k["kid"] for k in httpx.get(url + "/.well-known/jwks.json").json()["keys"]]
            assert kids == [_kid(new)]
