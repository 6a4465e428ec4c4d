"""The install gate: before install every page leads to /install/; after it, /install/ is gone (404).

Before install the app also signs its sessions with the installer's key kept beside the config file
(install/state.py explains why), so every server process agrees on the wizard's session.
"""
from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for

# Endpoints reachable before the help desk is installed (besides the installer itself).
_OPEN_BEFORE_INSTALL = {"static", "health.healthz"}


def init_app(app) -> None:
    if not app.config.get("HESK_INSTALLED"):
        _use_installer_key(app)

    # Registered first, so it runs before the CSRF check: after install, /install/ is a plain 404
    # whatever is sent to it.
    app.before_request_funcs.setdefault(None, []).insert(0, _install_gate)


def _install_gate():
    endpoint = request.endpoint or ""
    if current_app.config.get("HESK_INSTALLED"):
        # by path too: a wrong method or a missing slash under /install/ is not found either
        if endpoint.startswith("install.") or (request.path.rstrip("/") + "/").startswith(_installer_path()):
            abort(404)
        return None
    if endpoint.startswith("install.") or endpoint in _OPEN_BEFORE_INSTALL:
        return None
    return redirect(url_for("install.index"))


def _installer_path() -> str:
    """The installer's path below the help desk's prefix ("/install/"): its URL rule, looked up once."""
    found = current_app.extensions.get("hesk_installer_path")
    if found is None:
        found = next((rule.rule for rule in current_app.url_map.iter_rules() if rule.endpoint == "install.index"),
                     "/install/")
        current_app.extensions["hesk_installer_path"] = found
    return found


def _use_installer_key(app) -> None:
    """Sign sessions with the installer's shared key, read (or made) when the first request comes in:
    before the session is opened, and not when the app is merely built (the command line, tests)."""
    from install import state

    inner = app.wsgi_app
    loaded = []

    def wsgi_app(environ, start_response):
        if not loaded:
            key = state.signing_key(app.config["HESK_CONFIG_FILE"])
            if key:
                app.config["SECRET_KEY"] = key
            loaded.append(True)
        return inner(environ, start_response)

    app.wsgi_app = wsgi_app
