"""Customer-page branding files: GET /branding/theme.css (the accent colour, as a stylesheet because the
Content-Security-Policy forbids inline styles) and GET /branding/logo/<name> (the uploaded logo)."""
from __future__ import annotations

from flask import Blueprint, abort, make_response, send_file

from hesk_py.services import branding

bp = Blueprint("branding", __name__)


@bp.get("/branding/theme.css")
def theme_css():
    resp = make_response(branding.theme_css())
    resp.headers["Content-Type"] = "text/css; charset=utf-8"
    # pages link it with ?v=<colour>, so a new colour is a new address
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/branding/logo/<name>")
def logo(name: str):
    path = branding.logo_path(name)
    if path is None:
        abort(404)
    ext = path.suffix.lstrip(".")
    return send_file(path, mimetype=branding.MIME_TYPES[ext], max_age=31536000, conditional=True)
