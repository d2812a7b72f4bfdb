"""Registers studies: their kind (a job no worker runs), their page, and the manager's loop."""
from __future__ import annotations

from flask import Flask

from ..jobs import kinds
from ..jobs.resources import Request
from . import STUDY


def init_app(app: Flask) -> None:
    from . import routes

    kinds.register(kinds.JobKind(
        STUDY, "model", "Hyperparameter study", "digitsx.search.none", lambda spec: Request(cpu=0),
        url_prefix="/jobs", details=routes.details, template="studies/show.html", managed=True))
    app.register_blueprint(routes.bp)
