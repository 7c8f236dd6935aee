"""Latency summaries for the benchmark scripts."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(label: str, latencies: list[float], elapsed: float) -> str:
    """One line: count, throughput, p50 and p95 in milliseconds."""
    count = len(latencies)
    return (
        f"{label:<34} n={count:<6} {count / elapsed:8.1f}/s   "
        f"p50={percentile(latencies, 0.5) * 1000:7.2f} ms   "
        f"p95={percentile(latencies, 0.95) * 1000:7.2f} ms   "
        f"mean={statistics.fmean(latencies) * 1000:7.2f} ms"
    )
