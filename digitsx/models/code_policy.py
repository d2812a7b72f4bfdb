"""Who may run submitted Python: decided in one place, from what will run.

Every route that makes a job which may execute Python someone submitted (a custom network, an
uploaded model's ``network.py``, or a network copied from one of those through ``previous``, a
pretrained model, or anything later) passes the **parsed, validated** spec through
:func:`require_for_network` (a model's network) or :func:`require` with what a job kind's
``runs_code`` found (a pretrained model's files). The raw request values never
decide: ``" custom"``, ``"custom\\n"`` and ``"<id>\\n"`` parse to the same spec as their clean
forms, so they meet the same check.

What runs submitted code (followed through the jobs the spec names, as stored, never as sent):

- a network with ``method == "custom"`` (its ``source``);
- ``method == "pretrained"``: what the pretrained model kind says its files run
  (:attr:`~digitsx.jobs.kinds.JobKind.runs_code`: image classification's pretrained models run
  an uploaded ``network.py``, or the network of the model a snapshot came from);
- a network continued from another model (``previous``): that model's network.

A backbone (``method=backbone``) reads weights only (``torch.load(weights_only=True)``), so it
runs no code, whatever model it names.
"""
from __future__ import annotations

from typing import Any

from ..jobs import kinds
from . import PRETRAINED

MAX_DEPTH = 64  # lineage chains longer than this are treated as running code (refused)


def network_code(network: Any, store, depth: int = 0) -> str | None:
    """What submitted Python ``network`` (a validated spec's network) would run, or None."""
    if depth > MAX_DEPTH:
        return "a network with a lineage too long to follow"
    if not isinstance(network, dict):
        return None
    previous = network.get("previous")
    if isinstance(previous, dict) and previous.get("job_id"):
        job = store.db.get(str(previous["job_id"]))
        found = network_code((job.spec or {}).get("network"), store, depth + 1) if job else None
        if found:
            return f"continuing {found}"
    if network.get("method") == "custom" or "source" in network:
        return "a custom network"
    if network.get("method") == "pretrained":
        job = store.db.get(str(network.get("job_id") or ""))
        if job is None or job.kind != PRETRAINED:
            return None  # no such pretrained model: the form refuses it (400), nothing of it runs
        check = kinds.get(job.kind).runs_code
        return check(job.spec or {}, store) if check else "a model whose network cannot be checked"
    return None


def spec_code(spec: dict, store) -> str | None:
    """What submitted Python a model job's spec runs (its network), or None: the model kinds'
    ``runs_code``."""
    return network_code((spec or {}).get("network"), store)


def require_for_network(network: Any, store) -> None:
    """403 unless the caller may run what ``network`` would run."""
    found = network_code(network, store)
    if found:
        require(found[0].upper() + found[1:])


def require(what: str) -> None:
    """403 unless the caller may run submitted Python (``what`` says which)."""
    from .. import auth  # the web side only: forms (which workers may import) stay Flask-free

    auth.require_code_permission(what)
