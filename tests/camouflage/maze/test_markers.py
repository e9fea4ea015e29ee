"""Page seeds and link markers from the decoy secret; the secret stored encrypted."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shieldx.camouflage import tables
from shieldx.camouflage.maze.markers import SECRET_STATE_KEY, MazeKeys, load_decoy_secret
from shieldx.camouflage.sessions.tracker import new_session_id
from shieldx.camouflage.store import CamouflageStore
from shieldx.platform.context import PlatformContext


def test_markers_round_trip_and_cannot_be_forged() -> None:
    keys = MazeKeys(b"s" * 32)
    session = new_session_id()
    marker = keys.marker(session)
    assert len(marker) == 24 and session not in marker
    assert keys.session_of(marker) == session
    flipped = marker[:-1] + ("0" if marker[-1] != "0" else "1")
    assert keys.session_of(flipped) is None
    assert keys.session_of(marker.upper()) is None
    assert keys.session_of("nothex" * 4) is None
    assert MazeKeys(b"t" * 32).session_of(marker) is None


def test_page_seeds_are_stable_per_secret_decoy_and_path() -> None:
    keys = MazeKeys(b"k" * 32)
    seed = keys.page_seed("web", "/backup/db/")
    assert seed == MazeKeys(b"k" * 32).page_seed("web", "/backup/db/")
    assert 0 <= seed < 2**63
    assert seed != keys.page_seed("web", "/backup/db2/")
    assert seed != keys.page_seed("other", "/backup/db/")
    assert seed != MazeKeys(b"x" * 32).page_seed("web", "/backup/db/")


def test_the_secret_is_generated_once_and_stored_encrypted(platform_ctx: PlatformContext) -> None:
    store = CamouflageStore(platform_ctx.db)
    first = load_decoy_secret(configured=None, store=store, keyring=platform_ctx.keyring)
    assert len(first) == 32
    assert load_decoy_secret(configured=None, store=store, keyring=platform_ctx.keyring) == first
    with platform_ctx.db.read() as conn:
        sealed = conn.execute(
            sa.select(tables.state.c.value).where(tables.state.c.key == SECRET_STATE_KEY)
        ).scalar_one()
    assert first.hex() not in sealed and first not in sealed.encode()
    assert platform_ctx.keyring.key_id_of(sealed)
    configured = load_decoy_secret(
        configured="from-the-config", store=store, keyring=platform_ctx.keyring
    )
    assert configured == b"from-the-config"


def test_a_marker_needs_a_session_id_shape() -> None:
    with pytest.raises(ValueError, match="non-hexadecimal"):
        MazeKeys(b"k").marker("not-hex")
