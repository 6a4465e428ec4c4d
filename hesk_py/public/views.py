"""Pages customers see. Views are thin: form -> service -> render or redirect."""
from __future__ import annotations

from flask import Blueprint, render_template

from hesk_py import settings

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    return render_template("public/index.html", kb_enabled=settings.get("kb_enable"))
