"""First start: the database, its migrations and the first admin key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shieldx.config import Settings
from shieldx.platform import backups, migrations
from shieldx.platform.auth import MIN_BOOTSTRAP_KEY_LENGTH
from shieldx.platform.context import PlatformContext, build_context
from shieldx.platform.roles import Role

BOOTSTRAP_ENV = "SHIELDX_BOOTSTRAP_ADMIN_KEY"


class BootstrapError(Exception):
    """First-start preparation cannot proceed; the message says how to fix it."""


@dataclass(frozen=True)
class Prepared:
    """A ready context and, on first start, the admin key that was created."""

    ctx: PlatformContext
    admin_key: str | None
    admin_key_from_env: bool


def prepare(settings: Settings, environ: Mapping[str, str]) -> Prepared:
    """Open the database, migrate it when allowed, and create the first admin key if none exists."""
    ctx = build_context(settings)
    if settings.database.auto_migrate:
        taken = None
        if backups.needs_backup(ctx.db):  # as `shieldx db upgrade` does
            try:
                taken = backups.backup(ctx.db, backups.default_path(ctx.db, settings.data_dir))
            except backups.BackupError as exc:
                ctx.close()
                raise BootstrapError(
                    f"backup before migrating failed, nothing migrated: {exc} "
                    "(or run 'shieldx db upgrade --no-backup')"
                ) from exc
        migrations.upgrade(ctx.db, backup=None if taken is None else str(taken))
    elif not migrations.is_current(ctx.db):
        ctx.close()
        raise BootstrapError(
            "the database schema is not current and database.auto_migrate is off: "
            "run 'shieldx db upgrade' first"
        )
    if ctx.api_keys.has_admin():
        return Prepared(ctx=ctx, admin_key=None, admin_key_from_env=False)
    supplied = environ.get(BOOTSTRAP_ENV) or None
    if supplied is not None and len(supplied) < MIN_BOOTSTRAP_KEY_LENGTH:
        ctx.close()
        raise BootstrapError(
            f"{BOOTSTRAP_ENV} must be at least {MIN_BOOTSTRAP_KEY_LENGTH} characters"
        )
    _, key = ctx.api_keys.create(role=Role.ADMIN, name="bootstrap admin", key=supplied)
    return Prepared(ctx=ctx, admin_key=key, admin_key_from_env=supplied is not None)
