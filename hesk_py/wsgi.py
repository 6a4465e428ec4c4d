"""The WSGI entry point: ``hesk_py.wsgi:app`` for waitress, gunicorn or Passenger.

Before install the app serves only the installer. When the installer has written the bootstrap config,
the next request rebuilds the app once from it, so no restart is needed.
"""
from __future__ import annotations

import logging
import os
import threading

from hesk_py import create_app


log = logging.getLogger(__name__)

# what a visitor of each kind of app can reach first
_INSTALLER_TEMPLATES = ("install/", "errors/", "_macros/", "layout.html")
_HELPDESK_TEMPLATES = ("public/", "admin/", "errors/", "_macros/", "layout.html")


def warm_templates(app) -> None:
    """Compile the templates an app serves before its first visitor needs them (Jinja compiles a template
    on first use: a few hundred milliseconds for a page's templates). Before install only the installer's,
    at once; an installed help desk's in a background thread so the server starts without waiting."""
    prefixes = _HELPDESK_TEMPLATES if app.config.get("HESK_INSTALLED") else _INSTALLER_TEMPLATES

    def compile_all():
        env = app.jinja_env
        for name in env.list_templates(filter_func=lambda n: n.startswith(prefixes) and n.endswith(".html")):
            try:
                env.get_template(name)
            except Exception:  # a broken template shows when it is used; warming must not stop the server
                log.exception("could not compile template %s", name)

    if app.config.get("HESK_INSTALLED"):
        threading.Thread(target=compile_all, name="hesk-warm-templates", daemon=True).start()
    else:
        compile_all()


class ReloadingApp:
    """Wraps the Flask app; rebuilds it once after the installer writes the config."""

    def __init__(self, factory=create_app):
        self._factory = factory
        self._lock = threading.Lock()
        self._app = factory()
        warm_templates(self._app)

    @property
    def flask_app(self):
        return self._app

    def _maybe_reload(self) -> None:
        app = self._app
        if app.config.get("HESK_INSTALLED"):
            return
        if not os.path.exists(app.config["HESK_CONFIG_FILE"]):
            return
        with self._lock:
            if self._app is app:  # only the first thread rebuilds
                new = self._factory()
                if new.config.get("HESK_INSTALLED"):
                    warm_templates(new)
                    self._app = new

    def __call__(self, environ, start_response):
        self._maybe_reload()
        return self._app(environ, start_response)


app = ReloadingApp()
