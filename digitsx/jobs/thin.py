"""Thinning long metric series for graphs: at most a given number of points, keeping the
first and the last and, in each bucket between them, the lowest and the highest value (a spike
or a dip survives, which taking every n-th point would lose)."""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")


def keep_extremes(items: Sequence[T], limit: int, value: Callable[[T], float]) -> list[T]:
    """At most ``limit`` of ``items`` (in order): the ends and each bucket's extremes."""
    phase = _Phase(len(items), limit, value)
    kept = [x for order, item in enumerate(items) for x in phase.add(order, item)] + phase.flush()
    return [item for _, item in sorted(kept, key=lambda kp: kp[0])]


def _first_number(point: dict[str, Any]) -> float:
    values = point.get("values") or {}
    for key in ("loss", *values):
        v = values.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            return float(v)
    return 0.0


LOSS = re.compile(r'"loss":\s*(-?[0-9][0-9.eE+-]*)')


def raw_value(point: dict[str, Any]) -> float:
    """:func:`_first_number` of a point whose values are still JSON text (``raw``): the loss
    read without parsing the whole object (six times faster on a long job)."""
    found = LOSS.search(point["raw"])
    if found:
        try:
            return float(found.group(1))
        except ValueError:
            pass
    return _first_number({"values": json.loads(point["raw"])})


class Thinner:
    """Metric points (``{phase, epoch, values…}``) that come a batch at a time, at most
    ``limit`` a phase (each bucket's points with the lowest and highest loss, or first value,
    kept), knowing each phase's count in advance: no list of every point is held."""

    def __init__(self, counts: dict[str, int], limit: int, value: Callable[[Any], float] = _first_number,
                 phase_of: Callable[[Any], str] = lambda p: p["phase"]) -> None:
        self.limit, self.phase_of = limit, phase_of
        self.order_of: Callable[[Any], int] | None = None  # set by add_rows: rows carry their order
        self.phases = {phase: _Phase(n, limit, value) for phase, n in counts.items()}
        self.kept: list[tuple[int, dict[str, Any]]] = []  # (order, point)
        self.seen = 0

    def add(self, points: list[dict[str, Any]]) -> None:
        phase_of = self.phase_of
        for p in points:
            phase = self.phases.get(phase_of(p))
            if phase is None:  # a point newer than the count: kept as it is
                self.kept.append((self.seen, p))
            else:
                self.kept.extend(phase.add(self.seen, p))
            self.seen += 1

    def add_rows(self, rows: Sequence[Any], order_of: Callable[[Any], int]) -> None:
        """As :meth:`add` for rows that carry their own order (``order_of``, e.g. a point's id),
        a phase's rows a bucket at a time (``min``/``max`` over slices: several times faster)."""
        groups: dict[str, list[Any]] = {}
        phase_of = self.phase_of
        for r in rows:
            groups.setdefault(phase_of(r), []).append(r)
        for name, items in groups.items():
            phase = self.phases.get(name)
            if phase is None:
                self.kept.extend((order_of(r), r) for r in items)
            else:
                self.kept.extend((order_of(r), r) for r in phase.add_many(items))
        self.seen += len(rows)
        self.order_of = order_of

    def result(self) -> list[dict[str, Any]]:
        order_of = self.order_of
        for phase in self.phases.values():
            self.kept.extend((order_of(p), p) if order_of else (o, p) for o, p in phase.flush())
        return [p for _, p in sorted(self.kept, key=lambda kp: kp[0])]


class _Phase:
    """One series thinned as it streams by: its ``n`` items in buckets of the inner ones, each
    bucket's lowest and highest (first of equals) kept, and the two ends."""

    def __init__(self, n: int, limit: int, value: Callable[[Any], float]) -> None:
        self.n, self.i, self.value = n, 0, value
        self.all = n <= limit
        buckets = max(1, (limit - 2) // 2)
        self.size = max(1e-9, (n - 2) / buckets)
        self.bucket = -1
        self.low: tuple | None = None
        self.high: tuple | None = None

    def flush(self) -> list[tuple[int, Any]]:
        out = [x for x in {id(self.low): self.low, id(self.high): self.high}.values() if x is not None]
        self.low = self.high = None
        return [(order, p) for order, _, p in out]

    def add_many(self, items: list[Any]) -> list[Any]:
        """:meth:`add` for consecutive items of this phase (their order is theirs to carry):
        what it keeps now; each bucket's extremes come with a later call or :meth:`flush`, as
        ``(order, item)`` pairs whose order is the item's place in this phase."""
        out: list[Any] = []
        k, count, value = 0, len(items), self.value
        while k < count:
            i = self.i
            if self.all or i == 0 or i >= self.n - 1:
                out.append(items[k])
                k, self.i = k + 1, i + 1
                continue
            bucket = int((i - 1) / self.size)
            end = min(self.n - 1, int(math.ceil((bucket + 1) * self.size)) + 1)
            while end > i + 1 and int((end - 2) / self.size) != bucket:
                end -= 1
            while end < self.n - 1 and int((end - 1) / self.size) == bucket:
                end += 1
            chunk = items[k:k + (end - i)]
            if bucket != self.bucket:
                out.extend(p for _, p in self.flush())
                self.bucket = bucket
            low, high = min(chunk, key=value), max(chunk, key=value)
            lv, hv = value(low), value(high)
            if self.low is None or lv < self.low[1]:
                self.low = (i, lv, low)
            if self.high is None or hv > self.high[1]:
                self.high = (i, hv, high)
            k, self.i = k + len(chunk), i + len(chunk)
        return out

    def add(self, order: int, p: Any) -> list[tuple[int, Any]]:
        i, self.i = self.i, self.i + 1
        if self.all or i == 0 or i == self.n - 1 or i >= self.n:
            return [(order, p)]
        bucket = int((i - 1) / self.size)
        out = self.flush() if bucket != self.bucket else []
        self.bucket = bucket
        v = self.value(p)
        if self.low is None or v < self.low[1]:
            self.low = (order, v, p)
        if self.high is None or v > self.high[1]:
            self.high = (order, v, p)
        return out
