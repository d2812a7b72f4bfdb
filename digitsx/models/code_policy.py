"""Who may run submitted Python: decided in one place, from what will run.

Every route that makes a job which may execute Python someone submitted (a custom network, an
uploaded model's ``network.py``, or a network copied from one of those through ``previous``, a
pretrained model, or anything later) passes the **parsed, validated** spec through
:func:`require_for_network` or :func:`require_for_pretrained`. The raw request values never
decide: ``" custom"``, ``"custom\\n"`` and ``"<id>\\n"`` parse to the same spec as their clean
forms, so they meet the same check.

What runs submitted code (followed through the jobs the spec names, as stored, never as sent):

- a network with ``method == "custom"`` (its ``source``);
- ``method == "pretrained"``: the pretrained model's ``network.py`` when it came from an upload
  (archive or files) or from a snapshot of a model whose network runs submitted code;
- a network continued from another model (``previous``): that model's network.

A backbone (``method=backbone``) reads weights only (``torch.load(weights_only=True)``), so it
runs no code, whatever model it names.
"""
from __future__ import annotations

from typing import Any

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
        # no such pretrained model: the form refuses it (400), nothing of it can run
        return pretrained_code(job, store, depth + 1) if job is not None and job.kind == PRETRAINED else None
    return None


def spec_code(spec: dict, store) -> str | None:
    """What submitted Python a model job's spec runs (its network), or None: the model kinds'
    ``runs_code``."""
    return network_code((spec or {}).get("network"), store)


def pretrained_code(job, store, depth: int = 0) -> str | None:
    """What submitted Python a pretrained model job (its ``network.py``) runs, or None.
    An unknown or foreign job counts as code: it cannot be shown to be safe."""
    if job is None or job.kind != PRETRAINED:
        return "a model whose network cannot be checked"
    spec = job.spec or {}
    if spec.get("source") in ("archive", "files"):
        return "an uploaded model (its network.py)"
    if spec.get("source") == "snapshot":
        model = store.db.get(str(spec.get("from_model") or ""))
        if model is None:
            return "a model made from a snapshot whose model is gone"
        found = network_code((model.spec or {}).get("network"), store, depth + 1)
        return f"a pretrained model of {found}" if found else None
    return "a model whose network cannot be checked"


def require_for_network(network: Any, store) -> None:
    """403 unless the caller may run what ``network`` would run."""
    found = network_code(network, store)
    if found:
        _require(found[0].upper() + found[1:])


def require_for_pretrained(spec: dict, store) -> None:
    """403 unless the caller may run what a new pretrained model job of ``spec`` runs (its
    worker builds the network to check that the weights load)."""
    if spec.get("source") in ("archive", "files"):
        _require("An uploaded model (its network.py)")
    elif spec.get("source") == "snapshot":
        model = store.db.get(str(spec.get("from_model") or ""))
        require_for_network((model.spec or {}).get("network") if model else {"method": "custom"},
                            store)
    else:
        _require("A model of unknown origin")


def _require(what: str) -> None:
    from .. import auth  # the web side only: forms (which workers may import) stay Flask-free

    auth.require_code_permission(what)
