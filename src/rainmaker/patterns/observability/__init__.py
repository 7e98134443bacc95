"""The ``observability`` pattern: Prometheus metrics at ``/metrics`` and OpenTelemetry tracing.

Importing this package is light (the declaration and its settings only);
prometheus-client and the OpenTelemetry SDK load when the module is built.
"""

from rainmaker.patterns.observability.pattern import observability

__all__ = ["observability"]
