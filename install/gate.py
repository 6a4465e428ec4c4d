"""The install gate: before install every page leads to /install/; after it, /install/ is gone (404)."""
from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for

# Endpoints reachable before the help desk is installed (besides the installer itself).
_OPEN_BEFORE_INSTALL = {"static", "health.healthz"}


def init_app(app) -> None:
    @app.before_request
    def _install_gate():
        endpoint = request.endpoint or ""
        if current_app.config.get("HESK_INSTALLED"):
            if endpoint.startswith("install."):
                abort(404)
            return None
        if endpoint.startswith("install.") or endpoint in _OPEN_BEFORE_INSTALL:
            return None
        return redirect(url_for("install.index"))
