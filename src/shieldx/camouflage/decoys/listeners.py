"""Opening one configured decoy: its maze site, its options from the settings, its listener."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from shieldx.camouflage.decoys import DecoyOptions, DecoyServer, ExchangeObserver, load_template
from shieldx.camouflage.honeytokens.service import HoneytokenPlanter
from shieldx.camouflage.maze.markers import MazeKeys
from shieldx.camouflage.maze.pages import Server
from shieldx.camouflage.maze.site import (
    CpuBudget,
    LogGenerated,
    MazeOptions,
    MazeSite,
    ResolveSession,
    Tarpit,
)
from shieldx.camouflage.settings import CamouflageSettings, DecoySpec
from shieldx.camouflage.synth import Synthesizer


@dataclass(frozen=True)
class MazeParts:
    """What every decoy's maze shares."""

    keys: MazeKeys
    synthesizer: Synthesizer
    planter: HoneytokenPlanter
    resolve_session: ResolveSession
    log_generated: LogGenerated
    budget: CpuBudget
    tarpit: Tarpit
    #: The install's own time: the newest date the maze and bait files show.
    anchor: float = 0.0


def maze_site(spec: DecoySpec, settings: CamouflageSettings, parts: MazeParts) -> MazeSite:
    """The maze, bait paths and robots.txt of one decoy."""
    template = load_template(spec.template)
    maze = settings.maze
    return MazeSite(
        decoy=spec.name,
        server=Server(
            template.info.dialect,
            template.config,
            spec.server_name,
            spec.public_port or spec.port or 80,
        ),
        options=MazeOptions(
            prefixes=tuple(spec.maze_prefixes or maze.prefixes) if maze.enabled else (),
            entries=(maze.entries_min, maze.entries_max),
            records=(maze.records_min, maze.records_max),
            tarpit=(maze.tarpit_min_delay.total_seconds(), maze.tarpit_max_delay.total_seconds()),
            robots_txt=maze.robots_txt,
            bait_paths=tuple(settings.honeytokens.bait_paths),
            anchor=parts.anchor,
        ),
        keys=parts.keys,
        synthesizer=parts.synthesizer,
        planter=parts.planter,
        resolve_session=parts.resolve_session,
        log_generated=parts.log_generated,
        budget=parts.budget,
        tarpit=parts.tarpit,
        cache_size=maze.page_cache,
    )


async def open_decoy(
    spec: DecoySpec,
    *,
    settings: CamouflageSettings,
    default_host: str,
    site: MazeSite,
    observer: ExchangeObserver,
    tls: ssl.SSLContext | None = None,
) -> tuple[DecoyServer, int]:
    """Start SPEC's listener with its maze and the configured caps; returns it and its port."""
    limits = settings.limits
    options = DecoyOptions(
        observer=observer,
        dynamic_routes=site.routes(),
        server_name=spec.server_name,
        public_port=spec.public_port,
        max_dynamic_delay=settings.maze.tarpit_max_delay.total_seconds(),
        max_connections=limits.max_connections,
        max_request_line=limits.request_line or None,
        max_header_line=limits.header_line or None,
        max_header_count=limits.header_count or None,
        max_body=limits.body or None,
        install_seed=site.keys.seed(spec.name, "install"),
        install_anchor=site.anchor,
        tls=tls,
    )
    host = spec.host or default_host
    server = DecoyServer(
        name=spec.name, template=spec.template, host=host, port=spec.port, options=options
    )
    try:
        port = await server.start()
    except OSError as exc:
        raise RuntimeError(
            f"camouflage decoy {spec.name!r}: cannot listen on {host}:{spec.port} "
            f"({exc.strerror or exc}); change its port in camouflage.decoys"
        ) from exc
    return server, port
