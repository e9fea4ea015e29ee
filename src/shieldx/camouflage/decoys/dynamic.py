"""Answering a request from a dynamic content provider (maze, honeytoken pages)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .exchanges import DynamicRequest
from .messages import Request
from .templates import StaticFile

if TYPE_CHECKING:
    from .protocol import DecoyProtocol

log = logging.getLogger(__name__)


def dynamic_request(protocol: DecoyProtocol, request: Request) -> DynamicRequest:
    """The view of a request a provider gets."""
    return DynamicRequest(
        decoy=protocol.site.name,
        template=protocol.site.template_name,
        peer_host=protocol.conn.peer_host,
        peer_port=protocol.conn.peer_port,
        method=request.line.method,
        path=request.path,
        query=request.query,
        headers=tuple(request.headers),
        body=request.body,
        local_port=protocol.site.options.public_port or protocol.conn.local_port,
        local_host=protocol.conn.local_host,
    )


async def serve_dynamic(protocol: DecoyProtocol, request: Request) -> None:
    """Ask the provider, wait its (capped) delay, send its page in the dialect's style.

    A provider that fails or times out gets the server's own 500; one that returns None lets
    the template answer (usually its 404). Either way the connection carries on as the
    dialect's keep-alive rules say.
    """
    site, dialect = protocol.site, protocol.dialect
    provider = site.provider_for(request.path)
    assert provider is not None
    try:
        try:
            page = await asyncio.wait_for(
                provider(dynamic_request(protocol, request)), site.options.provider_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            site.stats.provider_errors += 1
            log.exception("decoy %s: dynamic content provider failed", site.name)
            protocol.conn.date = site.clock.current()
            response = dialect.internal_error(request.line, protocol.conn)
        else:
            if page is not None and page.delay_s > 0:
                await asyncio.sleep(min(page.delay_s, site.options.max_dynamic_delay))
            protocol.conn.date = site.clock.current()
            if page is None:
                response = dialect.respond(request, protocol.conn)
            elif page.mtime is not None:
                found = StaticFile(request.path, page.body, page.content_type, page.mtime, {})
                response = dialect.static(request, found, protocol.conn)
            else:
                response = dialect.dynamic(request, page, protocol.conn)
        if protocol.closing:
            return
        protocol.finish(protocol.send(response))
    except asyncio.CancelledError:
        return
    except Exception:
        protocol.internal_error()
        return
    protocol.advance()
