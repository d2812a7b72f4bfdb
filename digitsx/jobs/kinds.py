"""The registry of job kinds: what plugs a new task (its worker, its forms, its views) in.

A kind names the worker module the runner starts (``python -m <worker> JOB_DIR``), what it asks
of the scheduler, and where its forms live. The scheduler and runner know nothing else about it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import NotFound
from .resources import Request


def _default_request(spec: dict) -> Request:
    return Request.from_dict(spec.get("resources")) if spec.get("resources") else Request(cpu=1)


@dataclass(frozen=True)
class JobKind:
    """One kind of job, e.g. an image classification dataset."""

    name: str  # stored on the job row: "dataset.images.classification"
    category: str  # home page tab: "dataset", "model", "pretrained", "inference"
    title: str  # shown to people: "Image classification dataset"
    worker: str  # module run in the child process
    request: Callable[[dict], Request] = field(default=_default_request)
    new_endpoint: str | None = None  # the form's endpoint; clone redirects there with ?clone=<id>
    new_label: str | None = None  # the home page's button to that form: "New model: images → ..."
    resumable: bool = False  # the worker continues from what an earlier run left in the folder
    distributed: bool = False  # several GPUs: one worker process per GPU, started by torchrun
    url_prefix: str = "/jobs"  # DIGITS's /datasets/<id> and /models/<id>
    details: Callable[[Any, Path], dict] | None = None  # extra JSON for the job page
    template: str = "jobs/show.html"  # the job page (kinds extend the shared one)
    serve: str | None = None  # the warm worker module that answers requests on a model's snapshot
    export: str | None = None  # the module that packages a snapshot for download (MODEL_DIR EPOCH ARCHIVE)
    # what submitted Python a job's spec runs, or None: ``(spec, store) -> str | None``; resume
    # asks it, so a caller who may not run code cannot restart a job that does
    runs_code: Callable[[dict, Any], str | None] | None = None
    # a model kind's main metric: (series key "phase/name", label) — the home page's column,
    # the comparison's headline, what a search optimises
    main_metric: tuple[str, str] | None = None
    # a model kind's form and its parser ``(values, store, config) -> (jobs, dataset, group,
    # request)``: what a study makes each trial with
    model_form: Any = None
    parse: Callable[..., Any] | None = None
    managed: bool = False  # no worker: the web process moves it (a study); the scheduler skips it


    @property
    def new_id(self) -> str:
        """The home page button's id: ``new-model-images-classification``."""
        return "new-" + self.name.replace(".", "-")


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    """Add (or replace) a kind; plugins call this from their ``init_app``."""
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> JobKind:
    """The kind called ``name``; NotFound for one no plugin registered."""
    try:
        return _KINDS[name]
    except KeyError:
        raise NotFound(f"Unknown job kind {name!r} (is its plugin loaded?)") from None


def all_kinds() -> list[JobKind]:
    """Every registered kind."""
    return list(_KINDS.values())
