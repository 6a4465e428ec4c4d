"""The installer's pages (HTTP only); the steps themselves are plain functions in install/installer.py."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("install", __name__)


@bp.get("/")
def index():
    return render_template("install/index.html")
