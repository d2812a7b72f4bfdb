"""The new-model forms' previews: the learning rate over training (every task's), and the
network's layers (the route is here, the task that offers it registers what answers it:
:func:`register_network_preview`)."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint

from ..errors import NotFound, ValidationError
from ..fields import Form, accepts
from ..http import form_values
from . import forms
from ..engine.schedules import DEFAULTS as LR_DEFAULTS, curve

bp = Blueprint("model_previews", __name__)


LR_FORM = Form("Learning rate preview", {k: forms.TRAINING.fields[k] for k in
                                         ("learning_rate", "lr_policy", *LR_DEFAULTS)})
NETWORK_FORM = Form("Network preview", {})  # the fields of the task that registers
_NETWORK_PREVIEW: list[Callable[[], Any]] = []


def register_network_preview(form: Form, answer: Callable[[], Any]) -> None:
    """The task whose model form previews its network (image classification): its fields (for
    the API document) and the view that answers."""
    NETWORK_FORM.fields.update(form.fields)
    _NETWORK_PREVIEW[:] = [answer]


@bp.route("/models/visualize-lr", methods=["POST"])
@accepts(LR_FORM)
def visualize_lr():
    """The LR policy over training, 101 points: ``{"data": {"columns": [["Learning Rate 0", ...]]}}``."""
    values = form_values()
    r = LR_FORM.reader(values)
    policy = r.choice("lr_policy")
    rates = r.numbers("learning_rate")
    params = forms.lr_params(r)
    if r.errors:
        raise ValidationError(r.errors)
    columns = [[f"Learning Rate {i}"] + curve(policy, lr, params) for i, lr in enumerate(rates)]
    return {"data": {"columns": columns}}


@bp.route("/models/images/classification/visualize-network", methods=["POST"])
@accepts(NETWORK_FORM)
def visualize_network():
    """Every layer with its output shape and parameter count (run in a worker process)."""
    if not _NETWORK_PREVIEW:
        raise NotFound("No task previews its networks here")
    return _NETWORK_PREVIEW[0]()
