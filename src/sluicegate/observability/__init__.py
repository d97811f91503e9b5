"""Metrics (Prometheus), structured logs and traces (OpenTelemetry, optional)."""
