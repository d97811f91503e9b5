"""OpenTelemetry spans, when the `[otel]` extra is installed and an exporter is configured.
The span's trace id is the request's own `trace_id`, so a trace found in Jaeger finds its
audit events, and the other way round. Without OpenTelemetry every call here does nothing."""

from __future__ import annotations

import logging
import random
from typing import Any

log = logging.getLogger("sluicegate.tracing")


class Telemetry:
    def __init__(self, tracer: Any = None, provider: Any = None) -> None:
        self._tracer = tracer
        self._provider = provider

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @classmethod
    def from_exporter(cls, exporter: Any, service_name: str = "sluicegate") -> Telemetry:
        """Spans to any OpenTelemetry SpanExporter (OTLP, console, in-memory for tests)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider.get_tracer("sluicegate"), provider)

    @classmethod
    def configure(cls, otlp_endpoint: str | None, service_name: str) -> Telemetry:
        if not otlp_endpoint:
            return cls()
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            log.warning(
                "telemetry.otlp_endpoint is set but OpenTelemetry is not installed: pip install "
                "'sluicegate[otel]'"
            )
            return cls()
        telemetry = cls.from_exporter(_NullExporter(), service_name)
        telemetry._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        return telemetry

    def start_request(self, trace_id: str, name: str, attributes: dict[str, Any]) -> Any:
        if self._tracer is None:
            return None
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        parent = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=random.getrandbits(64),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        context = trace.set_span_in_context(NonRecordingSpan(parent))
        return self._tracer.start_span(name, context=context, attributes=attributes)

    @staticmethod
    def event(span: Any, name: str, attributes: dict[str, Any]) -> None:
        if span is not None:
            span.add_event(name, {k: v for k, v in attributes.items() if v is not None})

    @staticmethod
    def end(span: Any, attributes: dict[str, Any]) -> None:
        if span is not None:
            span.set_attributes({k: v for k, v in attributes.items() if v is not None})
            span.end()

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


class _NullExporter:
    """A placeholder so the provider is built the same way; the OTLP processor does the export."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
