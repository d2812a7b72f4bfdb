"""Form fields declared once: the declaration validates a request and describes it in the API.

A :class:`Form` is a dict of :class:`Field` (type, default, bounds, choices, help). A view
reads its input through a :class:`FieldReader` on that form, which takes the bounds, choices
and defaults from the declaration and collects every error (``{"errors": {field: [msg]}}``);
``@accepts(FORM)`` on the view hands the same form to :mod:`digitsx.api`, which turns it into
the request body's JSON Schema. A field's rule is written once, so the document cannot drift
from what the server checks. Torch-free; used by every task.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Callable

TRUE = {"1", "y", "yes", "true", "on", "checked"}
FALSE = {"", "0", "n", "no", "false", "off", "none"}
TYPES = ("text", "name", "flag", "int", "float", "floats", "ints", "choice", "path", "file", "id")


@dataclass(frozen=True)
class Field:
    """One input. ``type``: text, name (a job name), flag (yes/no), int, float, floats/ints (a
    comma list: a sweep), choice, path (on the server, inside the data roots), file (an upload),
    id (a job id). ``blank``: an empty value means "not given" (numbers)."""

    type: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    options: tuple = ()
    required: bool = False
    blank: bool = False
    help: str = ""
    limit: int = 256  # characters, for names

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown field type {self.type!r}")

    def schema(self) -> dict[str, Any]:
        """This field's JSON Schema (a form sends strings; a JSON body may send numbers)."""
        out: dict[str, Any]
        bounds = {k: v for k, v in (("minimum", self.low), ("maximum", self.high)) if v is not None}
        if self.type in ("int", "float"):
            number = {"type": "integer" if self.type == "int" else "number", **bounds}
            out = {"anyOf": [number, {"type": "string", "maxLength": 0}]} if self.blank else number
        elif self.type in ("floats", "ints"):
            item = {"type": "integer" if self.type == "ints" else "number", **bounds}
            out = {"anyOf": [item, {"type": "string", "pattern": r"^[-+0-9.eE]+(,[-+0-9.eE]+)*$",
                                    "description": "a comma list: one job per value"}]}
        elif self.type == "flag":
            out = {"type": "string", "enum": sorted(TRUE | FALSE - {""}) + [""]}
        elif self.type == "choice":
            out = {"type": "string", "enum": [str(o) for o in self.options]}
        elif self.type == "file":
            out = {"type": "string", "format": "binary"}
        elif self.type == "name":
            out = {"type": "string", "maxLength": self.limit, "pattern": r"^[^\x00-\x1f\x7f]*$",
                   **({"minLength": 1} if self.required else {})}
        else:
            out = {"type": "string"}
        if not self.required:  # null in a JSON body means "not given"
            out = {"anyOf": [out, {"type": "null"}]} if "anyOf" not in out else \
                {**out, "anyOf": out["anyOf"] + [{"type": "null"}]}
        if self.default not in (None, ""):
            out["default"] = self.default
        if self.help:
            out["description"] = self.help
        return out


class Form:
    """A named set of fields: defaults for the page, a reader for the request, a schema for
    the API document."""

    def __init__(self, title: str, fields: dict[str, Field]) -> None:
        self.title, self.fields = title, fields

    def defaults(self) -> dict[str, str]:
        return {k: "" if f.default is None else str(f.default) for k, f in self.fields.items()
                if f.type != "file"}

    def reader(self, values: dict[str, Any]) -> "FieldReader":
        return FieldReader({k: v for k, v in values.items() if v is not None}, self)

    def json_schema(self, files: bool = False) -> dict[str, Any]:
        """The request body: every field (uploads only in a multipart body)."""
        props = {k: f.schema() for k, f in self.fields.items() if files or f.type != "file"}
        required = [k for k, f in self.fields.items() if f.required and (files or f.type != "file")]
        out: dict[str, Any] = {"type": "object", "title": self.title, "properties": props}
        if required:
            out["required"] = required
        return out

    def __or__(self, other: "Form") -> "Form":
        return Form(self.title, {**self.fields, **other.fields})


def accepts(form: Form) -> Callable:
    """Mark a view as reading ``form``: the API document shows its fields, and a JSON body
    that gives one of them an object or a list is refused before the view runs."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            from flask import request

            from .errors import ValidationError

            body = request.get_json(silent=True) if request.is_json else None
            if isinstance(body, dict):
                wrong = {k: [f"expected a single value, got a JSON {type(v).__name__}"]
                         for k, v in body.items() if k in form.fields and isinstance(v, (dict, list))}
                if wrong:
                    raise ValidationError(wrong)
            return view(*args, **kwargs)

        checked.dx_form = form  # type: ignore[attr-defined]
        return checked

    return decorator


def shown(value: Any, limit: int = 40) -> str:
    """A number (or the text that was not one) for an error message: an integer of hundreds of
    digits is neither converted to a float (OverflowError: a 500) nor echoed whole."""
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value) if isinstance(value, int) else repr(value)
    return text if len(text) <= limit else f"{text[:limit // 2]}…({len(text)} characters)"


CONTROL = "".join(map(chr, range(33))) + "\x7f"  # what a choice or an id may not start or end with


class FieldReader:
    """Typed access to form fields that collects every error instead of stopping at one. On a
    :class:`Form`, bounds, choices and defaults come from the declaration; given in a call,
    they win (a reader on a plain dict needs them)."""

    def __init__(self, values: dict[str, Any], form: Form | None = None) -> None:
        self.values, self.form, self.errors = values, form, {}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def declared(self, name: str) -> Field:
        if self.form is None or name not in self.form.fields:
            return Field("text")
        return self.form.fields[name]

    def text(self, name: str) -> str:
        value = self.values.get(name, self.declared(name).default)
        text = "" if value is None else str(value).strip()
        if self.declared(name).type in ("choice", "id"):  # a key, never free text: no padding
            text = text.strip(CONTROL)
        return text

    def name(self, name: str, required: bool | None = None, limit: int | None = None) -> str:
        """A job or group name: required (or not), at most ``limit`` characters, no control
        characters (a NUL or a newline in a name breaks logs, files and pages)."""
        from .http import name_problem

        f = self.declared(name)
        value = self.text(name)
        problem = name_problem(value, f.required if required is None else required,
                               limit or f.limit)
        if problem:
            self.error(name, problem)
        return value

    def flag(self, name: str) -> bool:
        value = self.text(name).lower()
        if value not in TRUE | FALSE:
            self.error(name, f"expected yes or no, got {value!r}")
        return value in TRUE

    def number(self, name: str, low: float | None = None, high: float | None = None, kind=None,
               optional: bool | None = None):
        f = self.declared(name)
        low = f.low if low is None else low
        high = f.high if high is None else high
        kind = kind or (float if f.type in ("float", "floats") else int)
        optional = f.blank if optional is None else optional
        text = self.text(name)
        if text == "" and optional:
            return None
        try:
            value = kind(text)
        except ValueError:
            self.error(name, f"expected a{'n integer' if kind is int else ' number'}, got {shown(text)}")
            return None
        low = float("-inf") if low is None else low
        high = float("inf") if high is None else high
        if not low <= value <= high:  # NaN included
            self.error(name, f"must be between {low:g} and {high:g}, got {shown(value)}")
            return None
        return value

    def numbers(self, name: str) -> list:
        """A comma list of numbers (a sweep), each within the declared bounds."""
        f = self.declared(name)
        kind = int if f.type == "ints" else float
        values = []
        for part in self.text(name).split(","):
            part = part.strip()
            try:
                value = kind(part)
            except ValueError:
                self.error(name, f"expected a number or a comma list of numbers, got {shown(part)}")
                continue
            if not f.low <= value <= f.high:  # NaN included
                self.error(name, f"{shown(value)} is not between {f.low:g} and {f.high:g}")
                continue
            values.append(value)
        return values

    def choice(self, name: str, options: tuple | None = None, kind: Callable = str) -> Any:
        """One of the options (as ``kind``), or None after recording the error."""
        options = self.declared(name).options if options is None else options
        value = self.text(name)
        if value not in options:  # "Custom" is custom: the canonical spelling, if only one fits
            folded = [o for o in options if str(o).casefold() == value.casefold()]
            value = str(folded[0]) if len(folded) == 1 else value
        if value not in options:
            self.error(name, f"must be one of {', '.join(map(str, options))}, got {value!r}")
            return None
        return kind(value)

    def path(self, name: str, roots: list[str], folder: bool = True) -> str | None:
        from .files import within_roots

        value = self.text(name)
        if not value:
            self.error(name, "required")
            return None
        value = os.path.abspath(os.path.expanduser(value))
        if not within_roots(value, roots):
            self.error(name, f"{value} is outside the allowed data roots ({', '.join(roots)})")
        elif folder and not os.path.isdir(value):
            self.error(name, f"{value} does not exist or is not a folder")
        elif not folder and not os.path.isfile(value):
            self.error(name, f"{value} does not exist or is not a file")
        return value


__all__ = ["Field", "Form", "FieldReader", "accepts", "TRUE", "FALSE"]
