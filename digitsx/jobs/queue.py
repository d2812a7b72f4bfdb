"""The queue's order and preemption, as pure decisions the scheduler acts on.

:func:`order`: higher priority first; among equal priority users take turns. :func:`victims`:
which running jobs a waiting high-priority job may stop.
"""
from __future__ import annotations

from typing import Any

from ..db import Job


def order(jobs: list[Job], running: list[str] = (),
          last_start: dict[str, float] | None = None) -> list[Job]:
    """Queued jobs (oldest first) in the order they get resources: higher priority first;
    among equal priority users take turns: a user's k-th waiting job counts as k plus the
    jobs that user has running, lowest first; at a tie the user whose job started longest
    ago (``last_start``: user → time) first; then oldest first."""
    last_start = last_start or {}
    turn: dict[tuple[int, str], int] = {}
    keyed = []
    for job in jobs:
        level, user = int(job.priority or 0), job.username or ""
        k = turn[(level, user)] = turn.get((level, user), running.count(user) - 1) + 1
        keyed.append((-level, k, last_start.get(user, 0.0), job.created, job.id, job))
    return [item[-1] for item in sorted(keyed, key=lambda item: item[:5])]


def victims(job: Job, info: dict[str, Any], pool, handles: dict, preempting: dict, db) -> list[Job]:
    """The running jobs to stop so ``job`` can start: lower priority, preemptible, holding
    the GPUs (or the training slot) it waits for; the lowest priority, newest first."""
    wanted = set(info.get("gpus") or ())
    cpu_train = info.get("queue") == "cpu-train"
    if not wanted and not cpu_train:
        return []
    candidates = []
    for victim_id, reservation in pool.holders.items():
        if victim_id in preempting or victim_id not in handles:
            continue
        if not (set(reservation.gpus) & wanted or (cpu_train and reservation.train_slot)):
            continue
        victim = db.get(victim_id)
        if victim is None or (victim.priority or 0) >= (job.priority or 0) or \
                not victim.spec.get("preemptible"):
            continue
        candidates.append((victim, reservation))
    candidates.sort(key=lambda c: (c[0].priority or 0, -(c[0].started or 0)))
    if cpu_train:
        return [c[0] for c in candidates[:1]]
    need = len(info.get("gpus") or ()) if job.spec.get("resources", {}).get("gpu_ids") else \
        int(job.spec.get("resources", {}).get("gpu_count") or 1)
    chosen, freed = [], len(set(pool.free_gpus()) & wanted)
    for victim, reservation in candidates:
        if freed >= need:
            break
        chosen.append(victim)
        freed += len(set(reservation.gpus) & wanted)
    return chosen if freed >= need else []

