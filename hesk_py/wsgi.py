"""The WSGI entry point: ``hesk_py.wsgi:app`` for waitress, gunicorn or Passenger.

Before install the app serves only the installer. When the installer has written the bootstrap config,
the next request rebuilds the app once from it, so no restart is needed.
"""
from __future__ import annotations

import os
import threading

from hesk_py import create_app


class ReloadingApp:
    """Wraps the Flask app; rebuilds it once after the installer writes the config."""

    def __init__(self, factory=create_app):
        self._factory = factory
        self._lock = threading.Lock()
        self._app = factory()

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
                    self._app = new

    def __call__(self, environ, start_response):
        self._maybe_reload()
        return self._app(environ, start_response)


app = ReloadingApp()
