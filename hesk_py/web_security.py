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


# The staff panel's login and a customer account's login live side by side in the one signed session cookie
# (a staff member may be a customer too, in the same browser). Logging in or out of one starts a new session
# (``restart_session``): nothing from before survives, so no state planted or left over before a login
# carries into it (session fixation), the CSRF token included; only the other login's keys stay.
STAFF_LOGIN_KEYS = ("_user_id", "_fresh", "_id",  # Flask-Login's
                    "hesk_auth_at", "hesk_seen_at")  # admin/security.py: AUTH_AT, SEEN_AT
CUSTOMER_LOGIN_KEYS = ("hesk_customer",)  # hesk_py/public/accounts.py: SESSION_KEY


def restart_session(*, keep: tuple[str, ...]) -> None:
    """A new session for a login or a logout: everything goes but the keys in ``keep`` (the other login)."""
    from flask import session

    kept = {key: session[key] for key in keep if key in session}
    session.clear()
    session.update(kept)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (where to go after a login, staff or customer).
    Refuses other sites in every disguise: ``//evil``, ``/\\evil``, ``https:evil``, tabs or newlines (browsers
    drop them), non-ASCII look-alikes."""
    from urllib.parse import urlsplit

    if not target or len(target) > 2000:
        return None
    if any(ord(ch) < 33 or ord(ch) > 126 for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


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
