"""An OpenAPI 3.1 document built from the app's URL map, so it never drifts from the routes."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask

from .schemas import COMPONENTS

PARAM = re.compile(r"<(?:([a-z_]+)(?:\(([^)]*)\))?:)?([a-zA-Z_]+)>")  # <any(a, b):name>
SKIP_ENDPOINTS = {"static"}
ERRORS = {"400": "A field is wrong: {\"errors\": {field: [messages]}} or {\"error\": ...}",
          "401": "Log in, or send Authorization: Bearer <token>",
          "403": "Not yours, not allowed (can_run_code, admin), cross-site, or no CSRF token",
          "404": "No such job, file or route", "429": "Rate limited: see Retry-After",
          "default": "Error: {\"error\": {\"message\", \"type\"}}"}


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}}


def _param(converter: str, args: str) -> dict[str, Any]:
    """A path parameter's schema: ``any(a, b)`` is an enum, ``int`` an integer."""
    if converter == "any":
        return {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
    return {"type": "integer"} if converter == "int" else {"type": "string"}


def _operation(app: Flask, endpoint: str, method: str, params: list[tuple[str, dict]]) -> dict[str, Any]:
    view = app.view_functions[endpoint]
    doc = (view.__doc__ or endpoint).strip().splitlines()[0]
    op: dict[str, Any] = {
        "summary": doc, "operationId": f"{endpoint}_{method}".replace(".", "_"),
        "parameters": [{"name": name, "in": "path", "required": True, "schema": schema}
                       for name, schema in params],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}},
                      **{code: _error(text) for code, text in ERRORS.items()}},
    }
    for status, schema in getattr(view, "dx_answers", {}).items():  # @answers: the JSON's schema
        op["responses"][status] = {"description": "Accepted: a job was queued" if status == "202" else "OK",
                                   "content": {"application/json": {"schema": schema}}}
    if getattr(view, "dx_html", False):  # a browser form posts here: a page or a redirect back
        for response in op["responses"].values():
            response["content"]["text/html"] = {"schema": {"type": "string"}}
        op["responses"]["302"] = {"description": "A browser form post: redirected to the page"}
    form = getattr(view, "dx_form", None)
    if method in ("post", "put", "patch", "delete"):
        if form is not None:  # the declaration the view validates with
            plain = form.json_schema(files=False)
            op["requestBody"] = {"required": bool(plain.get("required")), "content": {
                "multipart/form-data": {"schema": form.json_schema(files=True)},
                "application/x-www-form-urlencoded": {"schema": plain},
                "application/json": {"schema": plain}}}
        else:
            op["requestBody"] = {"required": False, "content": {
                "multipart/form-data": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}}}}
    elif form is not None:
        op["parameters"] += [{"name": name, "in": "query", "required": field.required,
                              "schema": field.schema()} for name, field in form.fields.items()]
    return op


def openapi_document(app: Flask) -> dict[str, Any]:
    """Every JSON route: the ``.json`` twin where a page has one, and JSON-only routes. A view
    marked ``@accepts(FORM)`` gets its request body from the form it validates with; pages
    marked ``@page`` are left out."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP_ENDPOINTS
             and not getattr(app.view_functions[r.endpoint], "dx_page", False)]
    twins = {(r.rule[:-5], m) for r in rules if r.rule.endswith(".json") for m in r.methods or ()}
    paths: dict[str, dict] = {}
    for rule in sorted(rules, key=lambda r: r.rule):
        params = [(name, _param(converter, args)) for converter, args, name in PARAM.findall(rule.rule)]
        path = PARAM.sub(lambda m: "{" + m.group(3) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (rule.rule, method) in twins:
                continue  # documented once, as its .json twin
            paths.setdefault(path, {})[method.lower()] = _operation(
                app, rule.endpoint, method.lower(), params)
    return {
        "openapi": "3.1.0",
        "info": {"title": "digitsx", "version": app.config.get("VERSION", "0"),
                 "description": "DIGITS-compatible REST API. Inputs are form fields or a JSON "
                                "body; pages answer JSON with a .json suffix or Accept."},
        "paths": paths,
        "security": [{"bearer": []}, {"session": []}],
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API token (POST /api/tokens); needs no CSRF token"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "POST /login; state-changing requests send X-CSRFToken"}},
            "schemas": {**COMPONENTS, "Error": {"type": "object", "properties": {
            "error": {"type": "object", "properties": {"message": {"type": "string"},
                                                       "type": {"type": "string"}}},
            "errors": {"type": "object"}}}}},
    }
