"""A search as the form sends it, checked: the space (per field a range or a list of choices),
trials, trials at once, the metric and its direction, sampler, pruner, time budget.

``search_space`` is JSON: ``{"learning_rate": {"log_uniform": [1e-4, 0.1]}, "batch_size":
{"choice": [16, 32, 64]}}``; a range is ``uniform`` or ``log_uniform`` ``[low, high]`` (an
integer field samples integers). Every problem is a 400 naming the field. Which values a field
accepts is the task's own form's rule: each choice (and each range's ends) is parsed by the
task's model form before the study is made, as the caller, so a network the caller may not run
is refused here as for any job (:func:`check`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..fields import Field, Form, shown

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("none", "median", "asha")
DIRECTIONS = ("maximize", "minimize")
RANGES = ("uniform", "log_uniform")
SEARCH = Form("Search", {
    "search_space": Field("text", help='JSON: per field {"uniform"|"log_uniform": [low, high]} or '
                                       '{"choice": [values]}; blank: no search'),
    "search_trials": Field("int", 10, 1, 100000, help="how many trials (at most DIGITSX_MAX_SWEEP)"),
    "search_parallel": Field("int", 1, 1, 64, help="trials at once"),
    "search_metric": Field("text", help="a validation metric (blank: the task's main one)"),
    "search_direction": Field("choice", "", options=("", *DIRECTIONS),
                              help="blank: minimize a loss, maximize anything else"),
    "search_sampler": Field("choice", "tpe", options=SAMPLERS),
    "search_pruner": Field("choice", "asha", options=PRUNERS),
    "search_timeout": Field("float", None, 1, 10**8, blank=True,
                            help="seconds: no new trial starts after it (blank: none)"),
})
# Fields that say what to train and where, not how: never searched.
NOT_SEARCHED = {"model_name", "group_name", "dataset", "framework", "train_epochs", "snapshot_interval",
                "val_interval", "keep_snapshots", "snapshot_budget_mb", "select_gpu", "select_gpus", "select_gpus_list",
                "select_gpu_count", "method", "priority", "preemptible", "early_stopping_patience",
                "early_stopping_min_delta", "slurm_partition", "nodes", "gpus_per_node", "time_limit",
                "amp", "channels_last", "shuffle", "batch_accumulation"}
CHOICE_ONLY_TEXT = {"weights", "weights_backbone"}  # published weights: named choices
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
METRIC = re.compile(r"(val/)?[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass
class Search:
    """A checked search: what a study's spec keeps."""

    space: dict[str, dict[str, Any]]
    trials: int
    parallel: int
    metric: str
    direction: str
    sampler: str
    pruner: str
    timeout: float | None
    values: dict[str, str] = field(default_factory=dict)  # the form's other fields, as sent

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "trials": self.trials, "parallel": self.parallel,
                "metric": self.metric, "direction": self.direction, "sampler": self.sampler,
                "pruner": self.pruner, "timeout": self.timeout}

    def grid(self) -> dict[str, list]:
        """The grid sampler's values: every dimension's choices."""
        return {name: list(dim["choice"]) for name, dim in self.space.items()}


def wanted(values: dict[str, Any]) -> bool:
    """True when the form asks for a search (a non-blank ``search_space``)."""
    raw = values.get("search_space")
    return raw not in (None, "", {}, "{}") and not (isinstance(raw, str) and not raw.strip())


def parse(values: dict[str, Any], form: Form, main_metric: str, max_trials: int) -> Search:
    """The search fields of ``values`` for a task's model ``form``; ValidationError (400) with
    every problem, each under the field it is about (``search_space.<name>`` for a dimension)."""
    r = SEARCH.reader(values)
    errors: dict[str, list[str]] = {}
    space = _space(values.get("search_space"), form, errors)
    trials = r.number("search_trials")
    parallel = r.number("search_parallel")
    sampler = r.choice("search_sampler")
    pruner = r.choice("search_pruner")
    direction = r.choice("search_direction")
    timeout = r.number("search_timeout")
    metric = r.text("search_metric") or main_metric
    if not METRIC.fullmatch(metric):
        r.error("search_metric", f"expected a validation metric's name (accuracy, map_50, miou, loss...), "
                                 f"got {shown(metric)}")
    metric = metric.split("/", 1)[-1]
    if sampler == "grid" and space and not errors:
        ranged = [n for n, d in space.items() if "choice" not in d]
        if ranged:
            errors.setdefault("search_sampler", []).append(
                f"the grid sampler needs a list of choices for every field; {', '.join(ranged)} "
                f"{'is a range' if len(ranged) == 1 else 'are ranges'}")
        elif "search_trials" not in values or values.get("search_trials") in ("", None):
            trials = math.prod(len(d["choice"]) for d in space.values())
        elif trials is not None:  # each point once
            trials = min(trials, math.prod(len(d["choice"]) for d in space.values()))
    if trials is not None and trials > max_trials:
        r.error("search_trials", f"{trials} trials; at most {max_trials} (DIGITSX_MAX_SWEEP)")
    if parallel is not None and trials is not None and parallel > trials:
        parallel = trials
    for name, problems in r.errors.items():
        errors.setdefault(name, []).extend(problems)
    if errors:
        raise ValidationError(errors)
    direction = direction or ("minimize" if "loss" in metric or "error" in metric else "maximize")
    return Search(space, int(trials), int(parallel), metric, direction, sampler, pruner, timeout)


def _space(raw: Any, form: Form, errors: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as err:
            errors["search_space"] = [f"not JSON: {err}"]
            return {}
    if not isinstance(raw, dict) or not raw:
        errors["search_space"] = ['expected a JSON object: {"field": {"log_uniform": [low, high]} or '
                                  '{"choice": [values]}, ...}']
        return {}
    if len(raw) > 32:
        errors["search_space"] = [f"at most 32 fields, got {len(raw)}"]
        return {}
    space: dict[str, dict[str, Any]] = {}
    for name, dim in raw.items():
        label = str(name) if FIELD_NAME.fullmatch(str(name)) else shown(name)
        problem = _dimension(str(name), dim, form)
        if isinstance(problem, str):
            errors.setdefault(f"search_space.{label}", []).append(f"{label}: {problem}")
        else:
            space[str(name)] = problem
    return space


def _dimension(name: str, dim: Any, form: Form) -> dict[str, Any] | str:
    """One field's dimension, normalised, or what is wrong with it."""
    f = form.fields.get(name)
    if f is None:
        return "unknown field (not on this task's model form)"
    searchable = f.type in ("int", "float", "ints", "floats", "choice", "flag") or name in CHOICE_ONLY_TEXT
    if name in NOT_SEARCHED or name.startswith("search_") or not searchable:
        return "this field cannot be searched"
    if not isinstance(dim, dict) or len(dim) != 1:
        return 'expected {"uniform": [low, high]}, {"log_uniform": [low, high]} or {"choice": [values]}'
    (how, spec), = dim.items()
    if how == "choice":
        if not isinstance(spec, list) or not spec:
            return "choice needs a non-empty list of values"
        if len(spec) > 256:
            return "at most 256 choices"
        out = []
        for value in spec:
            problem = _accepts(name, f, value)
            if problem:
                return problem
            out.append(value)
        if len({json.dumps(v) for v in out}) != len(out):
            return "a choice is listed twice"
        return {"choice": out}
    if how not in RANGES:
        return f"unknown kind of dimension {shown(how)}: use uniform, log_uniform or choice"
    if f.type not in ("int", "float", "ints", "floats"):
        return "a range needs a numeric field: give a list of choices"
    if not (isinstance(spec, list) and len(spec) == 2 and
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec)):
        return f"{how} needs [low, high], two numbers"
    low, high = float(spec[0]), float(spec[1])
    if not (math.isfinite(low) and math.isfinite(high)):
        return "the range's ends must be finite numbers"
    if low >= high:
        return f"an empty or reversed range [{low:g}, {high:g}]: low must be below high"
    if how == "log_uniform" and low <= 0:
        return f"a log range must stay above 0, got [{low:g}, {high:g}]"
    for end in (low, high):
        problem = _accepts(name, f, int(end) if f.type in ("int", "ints") else end)
        if problem:
            return problem
    integer = f.type in ("int", "ints")
    if integer and (low != int(low) or high != int(high)):
        return f"{name} takes whole numbers: give whole ends"
    return {how: [int(low), int(high)] if integer else [low, high], "int": integer}


def _accepts(name: str, f: Field, value: Any) -> str | None:
    """What is wrong with ``value`` for field ``f``, by the field's own rule, or None."""
    if isinstance(value, (dict, list)) or value is None:
        return f"{shown(value)} is not a value of {name}"
    reader = Form("one", {name: f}).reader({name: str(value)})
    if f.type in ("int", "float"):
        reader.number(name)
    elif f.type in ("ints", "floats"):
        found = reader.numbers(name)
        if len(found) > 1:
            return f"{shown(value)}: one value per choice, not a comma list"
    elif f.type == "choice":
        reader.choice(name)
    elif f.type == "flag":
        reader.flag(name)
    elif not str(value).strip() or len(str(value)) > 256:
        return f"{shown(value)} is not a value of {name}"
    if reader.errors:
        return f"{shown(value)} is not accepted: {reader.errors[name][0]}"
    return None


def form_value(value: Any) -> str:
    """A sampled value as the form's text."""
    if isinstance(value, bool):
        return "y" if value else ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def probes(search: Search) -> list[dict[str, str]]:
    """The trial values to parse before a study starts: each choice and each range's ends, one
    dimension at a time (the others at their first choice or low end), so every value any trial
    can take meets the task's form, and every network the caller's code permission."""
    base = {n: form_value(d["choice"][0] if "choice" in d else next(v for k, v in d.items()
                                                                    if k in RANGES)[0])
            for n, d in search.space.items()}
    out = [dict(base)]
    for name, dim in search.space.items():
        ends = dim["choice"] if "choice" in dim else next(v for k, v in dim.items() if k in RANGES)
        for value in ends:
            probe = {**base, name: form_value(value)}
            if probe not in out:
                out.append(probe)
    return out[:64]
