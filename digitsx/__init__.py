"""digitsx: a self-hosted, browser-first deep-learning training platform (DIGITS's successor).

Importing the package creates nothing and imports neither Flask nor torch;
:func:`create_app` builds the web application.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def create_app(test_config: dict[str, Any] | None = None):
    """Build the Flask app: defaults → instance config → ``DIGITSX_*`` env → ``test_config``."""
    from .app import build

    return build(test_config)
