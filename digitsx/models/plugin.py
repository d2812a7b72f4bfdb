"""Registers what every task's models share with the app: downloads and exports, the model
forms' previews, DIGITS's generic routes (each task registers its handlers there)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the shared model routes."""
    from . import compare, downloads, generic, previews

    for module in (previews, downloads, generic, compare):
        app.register_blueprint(module.bp)
