"""OpenTelemetry tracing, optional and off by default: spans over OTLP/HTTP when
`observability.otlp_endpoint` is set (needs the `otel` extra: the SDK and the OTLP exporter).

Each service app gets its own TracerProvider (resource `service.name = shieldx-<service>`), so
`shieldx up` reports four services, and nothing global is touched. The middleware opens a
server span per request (W3C `traceparent` honoured, `shieldx.request_id` and the route as
attributes) and publishes its tracer in a context variable; `span()` opens children with it
(ledger commits), and SQLAlchemy's cursor events open one per database statement (the SQL
text, never its parameters). With tracing off, `span()` is a `nullcontext` and the middleware
checks one attribute: no OpenTelemetry module is imported.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator
from sqlalchemy import Engine, event

from shieldx.platform.settings_types import Duration, Section

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

_current: ContextVar[Tracer | None] = ContextVar("shieldx_tracer", default=None)
_instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()
_MAX_STATEMENT = 2048


class ObservabilitySettings(Section):
    """Traces: off unless an OTLP/HTTP endpoint is set."""

    # The collector's OTLP/HTTP base URL, e.g. http://otel-collector:4318 (/v1/traces is added).
    otlp_endpoint: str | None = None
    # The share of new traces kept (a request carrying a sampled traceparent is always kept).
    sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    # How long finished spans wait to be sent in one batch.
    export_interval: Duration = timedelta(seconds=1)

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                f"observability.otlp_endpoint must be an http(s):// URL (got {value!r})"
            )
        return value.rstrip("/") if value is not None else None


class TracingUnavailable(Exception):
    """Tracing is configured but the OpenTelemetry SDK is not installed."""


class Tracing:
    """One service's tracer provider, exporter and request spans."""

    def __init__(self, settings: ObservabilitySettings, *, service: str, version: str) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
        except ImportError as exc:
            raise TracingUnavailable(
                "observability.otlp_endpoint is set but OpenTelemetry is not installed: "
                "pip install 'shieldx[otel]'"
            ) from exc
        assert settings.otlp_endpoint is not None
        resource = Resource.create(
            {
                "service.name": f"shieldx-{service}",
                "service.namespace": "shieldx",
                "service.version": version,
            }
        )
        self.provider: TracerProvider = TracerProvider(
            resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio))
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint}/v1/traces"),
                schedule_delay_millis=settings.export_interval.total_seconds() * 1000,
            )
        )
        self.tracer: Tracer = self.provider.get_tracer("shieldx", version)
        self._propagator = TraceContextTextMapPropagator()

    @contextlib.contextmanager
    def request(self, scope: Mapping[str, Any], request_id: str) -> Iterator[Span]:
        """The server span of one HTTP request, current (with its tracer) while it runs."""
        from opentelemetry import context
        from opentelemetry.trace import SpanKind, set_span_in_context

        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        parent = self._propagator.extract(carrier) if carrier else None
        span = self.tracer.start_span(
            f"{scope['method']} {scope['path']}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": scope["method"],
                "url.path": scope["path"],
                "shieldx.request_id": request_id,
            },
        )
        token = context.attach(set_span_in_context(span))
        tracer_token = _current.set(self.tracer)
        try:
            yield span
        finally:
            _current.reset(tracer_token)
            context.detach(token)

    @staticmethod
    def finish(span: Span, *, route: str, method: str, status: int) -> None:
        """Name the span by its route template, record the status, end it."""
        from opentelemetry.trace import Status, StatusCode

        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def shutdown(self) -> None:
        """Send what is buffered and stop the exporter."""
        self.provider.shutdown()


@contextlib.contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A child span of the current request's span (nothing when tracing is off)."""
    tracer = _current.get()
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(name, attributes=attributes):
        yield


def instrument_engine(engine: Engine) -> None:
    """One span per SQL statement run inside a traced request (once per engine)."""
    if engine in _instrumented:
        return
    _instrumented.add(engine)
    system = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        tracer = _current.get()
        if tracer is None:
            return
        from opentelemetry.trace import SpanKind

        started = tracer.start_span(
            statement.split(None, 1)[0].upper() if statement else "SQL",
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": system, "db.query.text": statement[:_MAX_STATEMENT]},
        )
        conn.info.setdefault("shieldx_spans", []).append(started)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        spans = conn.info.get("shieldx_spans")
        if spans:
            spans.pop().end()

    @event.listens_for(engine, "handle_error")
    def _failed(exception_context: Any) -> None:
        conn = exception_context.connection
        spans = conn.info.get("shieldx_spans") if conn is not None else None
        if spans:
            from opentelemetry.trace import Status, StatusCode

            failed = spans.pop()
            failed.set_status(
                Status(StatusCode.ERROR, type(exception_context.original_exception).__name__)
            )
            failed.end()
