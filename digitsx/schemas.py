"""What the JSON routes answer, as JSON Schema for the OpenAPI document (``/api/openapi.json``).

A view marked ``@answers(schema)`` (or ``@answers(schema, 202)``) gets that response schema; the
schemas name the keys a script can rely on and leave the rest open (``additionalProperties``),
so a new key is not a breaking change. The API fuzz test checks every answer against them.
"""
from __future__ import annotations

from typing import Any, Callable

from .jobs.status import Status


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str] | tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def nullable(kind: str | list[str]) -> dict[str, Any]:
    return {"type": ([kind] if isinstance(kind, str) else list(kind)) + ["null"]}


STRING, NUMBER, INTEGER, OBJECT = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "object"}
STATUS = {"type": "string", "enum": [s.value for s in Status]}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Job": obj(
        ["id", "name", "status", "type", "kind", "url"],
        id=STRING, name=STRING, group=nullable("string"), status=STATUS, type=STRING, kind=STRING,
        category=STRING, url=STRING, username=nullable("string"), notes=nullable("string"),
        parent_id=nullable("string"), error=nullable("string"), progress=nullable("number"),
        submitted=nullable("number"), started=nullable("number"), finished=nullable("number"),
        elapsed=nullable("number"), eta=nullable("number"), gpus=array(INTEGER),
        waiting=nullable("object"), status_history=array({"type": "array"}),
        metrics=nullable("object"), tags=array(STRING), network=nullable("string"),
        dataset=nullable("string"), main_metric=nullable("number"),
        priority={"type": "string", "enum": ["low", "normal", "high"]}),
    "JobDetails": {"allOf": [ref("Job"), obj(
        ["spec", "result", "log", "resumable", "clonable"],
        directory=STRING, spec=OBJECT, result=OBJECT, parent={"anyOf": [ref("Job"), {"type": "null"}]},
        children=array(ref("Job")), log=array(STRING), resumable={"type": "boolean"},
        clonable={"type": "boolean"}, lineage=array(OBJECT))]},
    "Created": obj(["id", "name", "status", "url"], id=STRING, name=STRING, status=STATUS, url=STRING),
    "CreatedModels": {"anyOf": [ref("Job"), obj(["jobs"], jobs=array(ref("Job")))]},
    "JobStatus": obj(["status", "type", "name"], status=STATUS, type=STRING, name=STRING,
                     error=nullable("string"), progress=nullable("number"), eta=nullable("number"),
                     waiting=nullable("object")),
    "Done": obj(["status", "job_id"], status=STRING, job_id=STRING),
    "Log": obj(["job_id", "lines"], job_id=STRING, lines=array(STRING)),
    "Metrics": obj(["job_id", "metrics"], job_id=STRING, metrics=array(obj(
        ["phase", "epoch", "values"], phase=STRING, epoch=NUMBER, step=nullable("integer"),
        values=OBJECT))),
    "Events": obj(["job_id", "events"], job_id=STRING, events=array(obj(["event"], event=STRING))),
    "Brief": obj(["id", "name", "status"], id=STRING, name=STRING, status=STATUS),
    "Index": obj(["version", "datasets", "models"], version=STRING, jobs_dir=STRING,
                 datasets=array(ref("Brief")), models=array(ref("Brief")),
                 pretrained_models=array(ref("Brief")), tests=array(ref("Brief"))),
    "JobPage": obj(["jobs", "page", "per_page", "total", "pages", "counts"], version=STRING,
                   jobs=array(ref("Job")), page=INTEGER, per_page=INTEGER, total=INTEGER, pages=INTEGER,
                   counts={"type": "object", "additionalProperties": INTEGER},
                   tabs={"type": "object", "additionalProperties": INTEGER}),
    "CompletedJobs": obj(["running", "datasets", "models", "pretrained_models", "tests"],
                         running=array(ref("Job")), datasets=array(ref("Job")), models=array(ref("Job")),
                         pretrained_models=array(ref("Job")), tests=array(ref("Job")),
                         other=array(ref("Job")), gpus=OBJECT),
    "Checked": obj(["checked"], checked={"const": True}),
    "Predictions": obj(["predictions"], predictions=array(
        {"type": "array", "prefixItems": [STRING, NUMBER], "minItems": 2, "maxItems": 2}),
        timing=OBJECT, visualizations=array(OBJECT)),
    "Detections": obj(
        ["outputs", "detections"],
        outputs=obj(["bbox-list"], **{"bbox-list": array(array(NUMBER))}),
        detections=array(obj(["label", "class", "confidence", "box"], label=STRING, **{"class": INTEGER},
                             confidence=NUMBER, box=array(NUMBER))),
        threshold=nullable("number"), image_size=array(INTEGER), labels=array(STRING), timing=OBJECT),
    "ClassMap": obj(
        ["outputs", "labels"],
        outputs={"anyOf": [obj(["class_map"], class_map=array(array(INTEGER))),
                           obj(["class_map_png"], class_map_png=STRING)]},
        labels=array(STRING), palette=nullable("array"), image_size=array(INTEGER), timing=OBJECT),
    "Outputs": obj(["outputs"], outputs={"type": "object", "additionalProperties": OBJECT}),
    "Accepted": obj(["job_id", "status_url", "job"], job_id=STRING, status=STATUS, url=STRING,
                    status_url=STRING, results_url=STRING, job=ref("Job")),
}


def answers(schema: dict[str, Any] | str, status: int = 200) -> Callable:
    """Mark a view's JSON answer (a component's name or a schema) for the API document."""
    body = ref(schema) if isinstance(schema, str) else schema

    def decorator(view: Callable) -> Callable:
        view.dx_answers = {**getattr(view, "dx_answers", {}), str(status): body}  # type: ignore[attr-defined]
        return view

    return decorator
