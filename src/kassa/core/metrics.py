"""Prometheus metrics shared by every process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

http_requests = Counter(
    "kassa_http_requests_total",
    "HTTP requests by route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
http_latency = Histogram(
    "kassa_http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
jobs_queued = Gauge("kassa_jobs_queued", "Jobs waiting to run.", registry=REGISTRY)
jobs_oldest_age = Gauge(
    "kassa_jobs_oldest_queued_age_seconds",
    "Age of the oldest due job that has not run.",
    registry=REGISTRY,
)
jobs_dead = Gauge("kassa_jobs_dead", "Jobs that exhausted their retries.", registry=REGISTRY)
jobs_run = Counter(
    "kassa_jobs_run_total",
    "Jobs run by this process, by name and outcome.",
    ["name", "outcome"],
    registry=REGISTRY,
)
http_problems = Counter(
    "kassa_http_problems_total",
    "Problem responses (refusals and failures) by status and error code.",
    ["status", "code"],
    registry=REGISTRY,
)
