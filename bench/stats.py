"""Latency summaries shared by the benchmarks."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(samples_ms: list[float], elapsed: float) -> dict[str, float]:
    """Count, rate and p50/p95/p99/max of latencies in milliseconds over ``elapsed`` seconds."""
    return {
        "count": len(samples_ms),
        "per_second": round(len(samples_ms) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(samples_ms), 2) if samples_ms else 0.0,
        "p95_ms": round(percentile(samples_ms, 0.95), 2),
        "p99_ms": round(percentile(samples_ms, 0.99), 2),
        "max_ms": round(max(samples_ms, default=0.0), 2),
    }
