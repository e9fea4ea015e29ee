"""`shieldx shards …`: the shard map and each shard's size, for the configured data dir.

Import-light: the heavy modules are imported inside the commands.
"""

from __future__ import annotations

from typing import Any

import typer

from shieldx.platform.cli_options import ConfigOpt, DataDirOpt, JsonOpt, open_context

shards_app = typer.Typer(help="Ledger shards: the ring and each shard.", no_args_is_help=True)


@shards_app.command("status")
def status(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, json_out: JsonOpt = False
) -> None:
    """The ring version, virtual nodes and each shard's accounts, events and replicas."""
    import orjson

    ctx = open_context(config, data_dir)
    try:
        report = shard_status(ctx)
    finally:
        ctx.close()
    if json_out:
        print(orjson.dumps(report).decode())
        return
    print(f"ring version {report['ring_version']}, {report['virtual_nodes']} virtual nodes")
    for shard in report["shards"]:
        print(
            f"  {shard['name']:<16} {shard['accounts']:>10} accounts {shard['events']:>12} "
            f"events  {shard['database']}"
        )
    if report["transfers"]:
        states = ", ".join(f"{n} {s}" for s, n in sorted(report["transfers"].items()))
        print(f"cross-shard transfers: {states}")


def shard_status(ctx: Any) -> dict[str, Any]:
    """What `shards status` prints, for a platform context on the coordinator database."""
    from shieldx.credits.shards import store

    settings = ctx.settings
    configured = store.configured_map(settings)
    shards: list[dict[str, Any]] = []
    if len(configured.names) == 1:
        ring_version, virtual_nodes = 0, settings.sharding.virtual_nodes
        shards.append(_describe("main", ctx.db, store.shard_counts(ctx.db)))
    else:
        stored = store.load_map(ctx.db)
        shard_map = stored or configured
        ring_version, virtual_nodes = shard_map.version, shard_map.virtual_nodes
        urls = dict(configured.shards)
        for name in shard_map.names:
            db = store.shard_database(settings, name, urls.get(name))
            try:
                counts = _counts(store, db)
            finally:
                db.dispose()
            shards.append(_describe(name, db, counts))
    return {
        "ring_version": ring_version,
        "virtual_nodes": virtual_nodes,
        "shards": shards,
        "transfers": store.transfer_counts(ctx.db),
    }


def _counts(store: Any, db: Any) -> dict[str, int]:
    import sqlalchemy as sa

    if "event_store" not in sa.inspect(db.engine).get_table_names():
        return {"accounts": 0, "events": 0}  # not created yet: the service never ran
    counts: dict[str, int] = store.shard_counts(db)
    return counts


def _describe(name: str, db: Any, counts: dict[str, int]) -> dict[str, Any]:
    url = db.engine.url.render_as_string(hide_password=True)
    return {"name": name, **counts, "replicas": [], "database": url}
