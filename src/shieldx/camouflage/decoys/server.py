"""A decoy listener: one template, one port, its hooks and its caps.

    server = DecoyServer(name="edge-web", template="nginx-1.22.1-debian", port=0,
                         options=DecoyOptions(observer=batch.append))
    port = await server.start()
    ...
    await server.stop()

No global configuration is read: everything (host, port, template, timeouts, caps, hooks) is
passed in. The decoy reads no files after start-up (its template is loaded once, from the
package), never runs or evaluates what it receives and never opens outbound connections.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field, replace

from .dialects import Dialect, build_dialect
from .dialects.base import HeadLimits, Timeouts
from .exchanges import DecoyStats, DynamicContentProvider, ExchangeObserver
from .httpdate import HttpDateClock
from .protocol import DecoyProtocol
from .templates import Template, load_template
from .tls import TlsShim


@dataclass(frozen=True, slots=True)
class DecoyOptions:
    """Per-decoy settings; a None timeout means "what the mimicked server uses".

    ``observer`` hears every exchange; ``dynamic_routes`` maps path prefixes to providers
    (longest prefix wins); ``server_name`` is the name the server calls itself when a request
    has no Host (Apache's ServerName); ``public_port`` is the port its pages claim (when the
    decoy sits behind a port mapping); ``max_dynamic_delay`` caps a provider's tarpit delay;
    ``max_connections`` closes connections beyond it at once; the ``max_*`` caps tighten
    the template's own limits (request line, header line, header count, body), never loosen
    them (None keeps the mimicked server's value).
    """

    observer: ExchangeObserver | None = None
    dynamic_routes: tuple[tuple[str, DynamicContentProvider], ...] = ()
    server_name: str = "localhost"
    public_port: int | None = None
    first_byte_timeout: float | None = None
    header_timeout: float | None = None
    body_timeout: float | None = None
    keepalive_timeout: float | None = None
    linger_timeout: float | None = None
    provider_timeout: float = 10.0
    max_dynamic_delay: float = 30.0
    max_connections: int = 4096
    backlog: int = 1024
    max_request_line: int | None = None
    max_header_line: int | None = None
    max_header_count: int | None = None
    max_body: int | None = None
    clock: HttpDateClock = field(default_factory=HttpDateClock)
    #: Per-install seed and time: the default pages' mtimes (and so ETags) are this install's
    #: own (Template.installed); None serves the template's packaged dates.
    install_seed: bytes | None = None
    install_anchor: float = 0.0
    #: Speak TLS with this context (tls.server_context); None: plain HTTP.
    tls: ssl.SSLContext | None = None


class DecoySite:
    """What every connection of one decoy shares (dialect, hooks, timers, counters)."""

    def __init__(self, name: str, template: Template, dialect: Dialect, options: DecoyOptions):
        self.name = name
        self.template_name = template.name
        self.dialect = dialect
        self.options = options
        self.server_name = options.server_name
        self.clock = options.clock
        self.stats = DecoyStats()
        self.connections: set[DecoyProtocol] = set()
        base = dialect.timeouts
        self.timeouts = Timeouts(
            first_byte=_pick(options.first_byte_timeout, base.first_byte),
            header=_pick(options.header_timeout, base.header),
            body=_pick(options.body_timeout, base.body),
            keepalive=_pick(options.keepalive_timeout, base.keepalive),
            linger=_pick(options.linger_timeout, base.linger),
        )
        self._routes = sorted(options.dynamic_routes, key=lambda r: len(r[0]), reverse=True)

    def provider_for(self, path: str) -> DynamicContentProvider | None:
        """The dynamic provider whose prefix matches the path (longest prefix wins)."""
        for prefix, provider in self._routes:
            if path.startswith(prefix):
                return provider
        return None


def _pick(override: float | None, default: float) -> float:
    return default if override is None else override


def _cap(current: int, wanted: int | None) -> int:
    if wanted is None:
        return current
    return wanted if current == 0 else min(current, wanted)


def tightened(limits: HeadLimits, options: DecoyOptions) -> HeadLimits:
    """The template's limits with the options' caps applied (0 in a template means none)."""
    return replace(
        limits,
        request_line=_cap(limits.request_line, options.max_request_line),
        header_line=_cap(limits.header_line, options.max_header_line),
        header_count=_cap(limits.header_count, options.max_header_count),
        body=_cap(limits.body, options.max_body),
    )


class DecoyServer:
    """Listens on host:port and answers as its template's server."""

    def __init__(
        self,
        *,
        name: str,
        template: str | Template,
        host: str = "127.0.0.1",
        port: int = 0,
        options: DecoyOptions | None = None,
    ) -> None:
        self.name = name
        self.template = load_template(template) if isinstance(template, str) else template
        self.host = host
        self.port = port
        self.options = options or DecoyOptions()
        self.site: DecoySite | None = None
        self._server: asyncio.Server | None = None

    @property
    def stats(self) -> DecoyStats:
        """The decoy's counters (zeros before start)."""
        return self.site.stats if self.site is not None else DecoyStats()

    async def start(self) -> int:
        """Bind and start serving; returns the bound port (useful with port 0)."""
        if self._server is not None:
            raise RuntimeError(f"decoy {self.name} is already started")
        loop = asyncio.get_running_loop()
        site_box: list[DecoySite] = []
        tls = self.options.tls

        def protocol() -> asyncio.Protocol:
            site = site_box[0]
            if tls is None:
                return DecoyProtocol(site)
            return TlsShim(tls, DecoyProtocol(site), handshake_timeout=site.timeouts.header)

        server = await loop.create_server(
            protocol,
            self.host,
            self.port,
            backlog=self.options.backlog,
            reuse_address=True,
            start_serving=False,
        )
        self.port = int(server.sockets[0].getsockname()[1])
        if self.options.install_seed is not None:
            self.template = self.template.installed(
                self.options.install_seed, self.options.install_anchor
            )
        dialect = build_dialect(
            self.template,
            server_name=self.options.server_name,
            port=self.options.public_port or self.port,
        )
        dialect.limits = tightened(dialect.limits, self.options)
        self.site = DecoySite(self.name, self.template, dialect, self.options)
        site_box.append(self.site)
        self._server = server
        await server.start_serving()
        return self.port

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        if self.site is not None:
            for protocol in list(self.site.connections):
                protocol.closing = True
                if protocol.task is not None:
                    protocol.task.cancel()
                if protocol.transport is not None:
                    protocol.transport.abort()
        await server.wait_closed()
