"""The application factory's body (kept out of ``digitsx/__init__`` so importing is free)."""
from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import Flask

from . import __version__, config


BUILTIN_PLUGINS = ["digitsx.classification.plugin", "digitsx.models.plugin", "digitsx.detection.plugin",
                   "digitsx.segmentation.plugin", "digitsx.search.plugin"]  # each task plugs in like a third-party plugin would


def _async_mode() -> str:
    """gevent when the serve command monkey-patched the process, threads otherwise (tests)."""
    try:
        from gevent import monkey

        return "gevent" if monkey.is_module_patched("socket") else "threading"
    except ImportError:
        return "threading"


def build(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and wire the app; see :func:`digitsx.create_app`."""
    app = Flask("digitsx", instance_relative_config=True)
    app.config.from_mapping(config.defaults())
    app.config.from_pyfile("digitsx.cfg", silent=True)
    app.config.from_prefixed_env("DIGITSX")
    if test_config:
        app.config.from_mapping(test_config)
    config.finalize(app.config)
    app.config["VERSION"] = __version__
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from . import auth, events, http, views
    from .extensions import db, socketio
    from .jobs import routes as job_routes
    from .platform import Platform

    db.init(app.config["DATABASE_URL"])
    socketio.init_app(app, async_mode=_async_mode(), cors_allowed_origins=None)
    events.register_handlers(socketio)
    http.register_handlers(app)
    from .http import reject_bad_json

    app.before_request(reject_bad_json)
    auth.init_app(app)
    if int(app.config.get("PROXY_COUNT") or 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.register_blueprint(views.bp)
    app.register_blueprint(job_routes.bp)
    from .models import weights_routes

    app.register_blueprint(weights_routes.bp)
    from . import demo_routes

    app.register_blueprint(demo_routes.bp)
    for name in BUILTIN_PLUGINS + app.config["PLUGINS"]:
        importlib.import_module(name).init_app(app)
    platform = Platform(app)
    app.extensions["digitsx"] = platform
    from .jobs import listing

    listing.backfill(db)  # rows an older version wrote: their list columns, once
    app.jinja_env.globals.update(version=__version__, dx_config=events.client_config())
    if app.config["SCHEDULER_AUTOSTART"]:
        platform.start()
    return app
