"""The security settings that shape every response: frames (``x_frame_opt``), cookies (``samesite``) and
https (``force_ssl``).

They are help desk settings, read per request from the settings table, so the bootstrap config and the
extensions set up at start (Talisman, Flask's session, Flask-Login's remember-me cookie) cannot carry them.
Instead:

* every cookie goes through ``Response.set_cookie`` (Flask's session, Flask-Login, our own views), which
  gives it the SameSite value of the setting, and the Secure flag when https is forced or SameSite is
  None; changing ``app.config`` per request would leak between threads; a cookie meant for the whole
  help desk (path ``/``) is kept to the prefix it is mounted at (``/helpdesk``: SCRIPT_NAME from Passenger,
  ``hesk-py serve --url-prefix`` or a trusted ``X-Forwarded-Prefix``), so other sites on the domain never
  receive it;
* the Talisman subclass in ``hesk_py/extensions.py`` calls ``adjust_headers`` after it has set its
  headers: with ``x_frame_opt`` off, X-Frame-Options and CSP ``frame-ancestors`` are dropped, and with
  ``force_ssl`` on, https responses carry Strict-Transport-Security;
* ``force_ssl`` redirects plain http requests to https (301). Behind a proxy, the request counts as https
  only when the bootstrap config trusts the proxy (``[server] trusted_proxies``, ProxyFix).
"""
from __future__ import annotations

from flask import Response as FlaskResponse
from flask import current_app, has_app_context, has_request_context, redirect, request

HSTS = "max-age=31536000"
# /healthz is probed by load balancers over plain http on the private side
_NO_REDIRECT_ENDPOINTS = {"static", "health.healthz"}


def _setting(key: str, fallback):
    if not has_app_context() or not current_app.config.get("HESK_INSTALLED"):
        return fallback
    from hesk_py import settings

    return settings.template_value(key)  # the default when the database is down


class Response(FlaskResponse):
    """Flask's response, with cookies following the ``samesite`` and ``force_ssl`` settings."""

    def set_cookie(self, key, value="", *args, **kwargs):
        samesite = _setting("samesite", "Lax")
        kwargs["samesite"] = samesite
        if samesite == "None" or _setting("force_ssl", False):
            kwargs["secure"] = True  # browsers drop SameSite=None cookies that are not Secure
        if len(args) < 3 and kwargs.get("path", "/") in ("/", None) and has_request_context() \
                and request.script_root:
            kwargs["path"] = request.script_root  # the help desk's own prefix, not the whole domain
        return super().set_cookie(key, value, *args, **kwargs)


def adjust_headers(response):
    if not _setting("x_frame_opt", True):
        response.headers.pop("X-Frame-Options", None)
        csp = response.headers.get("Content-Security-Policy")
        if csp:
            kept = [p for p in csp.split(";") if p.strip() and not p.strip().startswith("frame-ancestors")]
            response.headers["Content-Security-Policy"] = "; ".join(p.strip() for p in kept)
    if request.is_secure and _setting("force_ssl", False) and "Strict-Transport-Security" not in response.headers:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _redirect_to_https():
    if request.is_secure or request.endpoint in _NO_REDIRECT_ENDPOINTS:
        return None
    if not _setting("force_ssl", False):
        return None
    return redirect(request.url.replace("http://", "https://", 1), code=301)


def init_app(app) -> None:
    app.response_class = Response
    # first in line: nothing else runs (or queries) for a request that is sent to https
    app.before_request_funcs.setdefault(None, []).insert(0, _redirect_to_https)
