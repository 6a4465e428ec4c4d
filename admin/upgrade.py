"""The upgrade page for administrators: after uploading a newer version, see the pending schema
migrations, get reminded to back up, and apply them (``hesk-py upgrade`` does the same from a shell).

The installer cannot do this once the help desk is installed (/install/ answers 404 then), hence this
page in the staff panel. If the new version's login itself needs a pending migration, use the command.
"""
from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField
from wtforms.validators import InputRequired

from admin.security import require_admin
from hesk_py.extensions import db
from hesk_py.services import schema

bp = Blueprint("upgrade", __name__)
log = logging.getLogger(__name__)


class UpgradeForm(FlaskForm):
    # Kept beside its only view: the form is this page's alone.
    backup_done = BooleanField(_l("I have a backup of the database and of the instance folder"),
                               validators=[InputRequired(message=_l("Confirm that you have a backup first."))])
    submit = SubmitField(_l("Apply the migrations"))


def _end_transaction() -> None:
    """The schema functions use connections of their own: end this request's transaction first (on
    SQLite it holds the write lock, on MySQL metadata locks the migrations need)."""
    db.session.commit()


@bp.route("/", methods=["GET", "POST"])
@require_admin
def index():
    form = UpgradeForm()
    _end_transaction()
    if form.validate_on_submit():
        if not schema.pending_revisions():
            flash(_("The database is already up to date."), "success")
            return redirect(url_for("admin.upgrade.index"))
        before = schema.current_revision()
        try:
            schema.upgrade()
        except Exception as exc:
            db.session.rollback()
            log.exception("upgrade from %s failed", before)
            flash(_("The upgrade stopped: %(error)s. The database may be half migrated: restore your backup, "
                    "then run \"hesk-py upgrade\" to see the details.", error=type(exc).__name__), "error")
            return redirect(url_for("admin.upgrade.index"))
        flash(_("The database was upgraded from revision %(a)s to %(b)s. All data was kept.",
                a=before, b=schema.current_revision()), "success")
        return redirect(url_for("admin.upgrade.index"))
    pending, current = schema.pending_revisions(), schema.current_revision()
    return render_template("admin/upgrade/index.html", form=form, pending=pending, current=current,
                           head=schema.head_revision(), database=db.engine.url), 200 if not form.errors else 422
