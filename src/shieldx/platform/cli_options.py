"""What every `shieldx …` command shares: option types, consoles, `fail`, settings and context.

Service CLIs (`shieldx.<service>.cli`) import these from here, never from `shieldx.cli`: the
top-level CLI imports the service CLIs, so importing it back would be a cycle.
Import-light: FastAPI, SQLAlchemy and Alembic are imported inside `open_context` only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from shieldx.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from shieldx.platform.context import PlatformContext

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="YAML config file [env SHIELDX_CONFIG].", show_default=False
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory [default: ./.shieldx, env SHIELDX_DATA_DIR].",
        show_default=False,
    ),
]
HostOpt = Annotated[
    str | None,
    typer.Option("--host", help="Listen address [default: 127.0.0.1].", show_default=False),
]
PortOpt = Annotated[
    int | None,
    typer.Option(help="Port (0 picks a free one).", show_default=False, min=0, max=65535),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: MESSAGE` on stderr and exit with CODE."""
    # escape: a message quoting user input ("[x]") must not be read as Rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def settings_from(
    config: Path | None, data_dir: Path | None = None, extra: dict[str, Any] | None = None
) -> Settings:
    """Load settings (file < env < flags); a bad configuration exits 2 naming each key."""
    overrides: dict[str, Any] = dict(extra or {})
    if data_dir is not None:
        overrides["data_dir"] = str(data_dir)
    try:
        return load_settings(config, os.environ, overrides)
    except ConfigError as exc:
        err.print("[bold red]configuration error:[/]")
        for problem in exc.problems:
            err.print(f"  {escape(problem)}")
        raise typer.Exit(2) from None


def open_context(config: Path | None, data_dir: Path | None) -> PlatformContext:
    """Settings, logging and a platform context on a migrated database (for CLI commands)."""
    from shieldx.platform import migrations
    from shieldx.platform.context import build_context
    from shieldx.platform.logging import configure_logging

    settings = settings_from(config, data_dir)
    configure_logging(settings.logging)
    ctx = build_context(settings)
    if not migrations.is_current(ctx.db):
        if not settings.database.auto_migrate:
            fail("the database schema is not current: run 'shieldx db upgrade' first")
        migrations.upgrade(ctx.db)
    return ctx
