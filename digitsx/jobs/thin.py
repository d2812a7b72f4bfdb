"""Thinning long metric series for graphs: at most a given number of points, keeping the
first and the last and, in each bucket between them, the lowest and the highest value (a spike
or a dip survives, which taking every n-th point would lose)."""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")


def keep_extremes(items: Sequence[T], limit: int, value: Callable[[T], float]) -> list[T]:
    """At most ``limit`` of ``items`` (in order): the ends and each bucket's extremes."""
    if len(items) <= limit:
        return list(items)
    buckets = max(1, (limit - 2) // 2)
    inner = items[1:-1]
    size = len(inner) / buckets
    out = [items[0]]
    for b in range(buckets):
        start, end = int(b * size), int((b + 1) * size)
        if start >= end:
            continue
        chunk = range(start, end)
        low = min(chunk, key=lambda i: value(inner[i]))
        high = max(chunk, key=lambda i: value(inner[i]))
        out.extend(inner[i] for i in sorted({low, high}))
    out.append(items[-1])
    return out


def _first_number(point: dict[str, Any]) -> float:
    values = point.get("values") or {}
    for key in ("loss", *values):
        v = values.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            return float(v)
    return 0.0


def thin(points: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Metric points (``{phase, epoch, values…}``), at most ``limit`` a phase, each bucket's
    points with the lowest and highest loss (or first value) kept; in their order."""
    by_phase: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        by_phase.setdefault(p["phase"], []).append(p)
    kept = {id(p) for phase in by_phase.values() for p in keep_extremes(phase, limit, _first_number)}
    return [p for p in points if id(p) in kept]
