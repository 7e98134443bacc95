"""RequestMetrics exposes what prometheus_client's Counter and Histogram would: totals by
status, cumulative buckets whose bounds are inclusive, sums, _created series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rainmaker.patterns.observability.metrics import RequestMetrics


def test_counts_buckets_sums_and_created_series() -> None:
    registry = CollectorRegistry(auto_describe=True)
    metrics = RequestMetrics(registry, namespace="t", buckets=[1.0, 0.01, 0.1])
    for status, seconds in ((200, 0.01), (200, 0.05), (404, 0.5), (200, 3.0)):
        metrics.record("GET", "/x", status, seconds)
    metrics.record("BREW", "/x", 200, 0.2)  # any method token: counted as OTHER
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    get = (("method", "GET"), ("route", "/x"))
    assert samples[("t_http_requests_total", (*get, ("status", "200")))] == 3
    assert samples[("t_http_requests_total", (*get, ("status", "404")))] == 1
    other = (("method", "OTHER"), ("route", "/x"), ("status", "200"))
    assert samples[("t_http_requests_total", other)] == 1
    # One histogram per method and route, every status in it; a bound holds its value.
    bucket = "t_http_request_duration_seconds_bucket"
    les = {"0.01": 1, "0.1": 2, "1.0": 3, "+Inf": 4}
    for le, count in les.items():
        assert samples[(bucket, (("le", le), *get))] == count
    assert samples[("t_http_request_duration_seconds_count", get)] == 4
    assert abs(samples[("t_http_request_duration_seconds_sum", get)] - 3.56) < 1e-9
    assert ("t_http_requests_created", (*get, ("status", "404"))) in samples
    assert ("t_http_request_duration_seconds_created", get) in samples
