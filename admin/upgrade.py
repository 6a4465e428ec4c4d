"""The upgrade page for administrators: after uploading a newer version, see the pending schema
migrations, get reminded to back up, and apply them (``hesk-py upgrade`` does the same from a shell).

The installer cannot do this once the help desk is installed (/install/ answers 404 then), hence this
page in the staff panel. While migrations are pending every staff page shows a banner (administrators get
a link here, other staff a note to ask them). When a page fails because the database lacks what this
version reads (from far enough back even the login does), a page says how to upgrade instead of a bare
error: "hesk-py upgrade" in a shell, or the installer's upgrade.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
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

_AT_HEAD = schema.SCHEMA_AT_HEAD  # app.extensions: this process saw the database at the newest revision
_SCRIPT = "hesk_schema_script"  # app.extensions: the parsed migrations (they change only with the code)


def _pending_now() -> list[str]:
    """Revisions this version needs that the database lacks, read on the request's own connection (a
    second connection would wait for the session's write lock on SQLite)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    ext = current_app.extensions
    script = ext.get(_SCRIPT)
    if script is None:
        script = ext[_SCRIPT] = schema.script()
    current = MigrationContext.configure(db.session.connection()).get_current_revision()
    try:
        return [r.revision for r in script.iterate_revisions("heads", current)]
    except CommandError:  # a revision this version does not know: a newer version's database
        return []


def schema_behind() -> bool:
    """Whether migrations are pending (the banner on every staff page). Once the database is seen at the
    newest revision this process stops asking: it cannot fall behind while the code stays the same."""
    if current_app.extensions.get(_AT_HEAD):
        return False
    if "hesk_schema_behind" not in g:
        g.hesk_schema_behind = bool(_pending_now())
        if not g.hesk_schema_behind:
            current_app.extensions[_AT_HEAD] = True
    return g.hesk_schema_behind


def template_context() -> dict:
    """For templates/admin/base.html (a context processor of the admin blueprint)."""
    return {"schema_behind": schema_behind}


def _viewer_is_admin() -> bool:
    from flask_login import current_user

    try:  # loading the user may be what failed (an older users table)
        return bool(current_user.is_authenticated and current_user.is_admin)
    except Exception:
        db.session.rollback()
        return False


def database_error(exc):
    """Error handler of the admin blueprint for database errors: when the schema is behind, the page
    failed because it needs a pending migration, so say how to apply them. Otherwise the app's own
    handler answers (503 when the database is unreachable, 500 else)."""
    db.session.rollback()
    g.pop("hesk_schema_behind", None)
    try:
        behind = bool(_pending_now())
    except Exception:  # the database is unreachable: not a schema matter
        db.session.rollback()
        behind = False
    if not behind:
        handler = current_app._find_error_handler(exc, [])  # the app-wide one (hesk_py/errors.py)
        if handler is None:
            raise exc
        return handler(exc)
    log.warning("%s %s failed while schema migrations are pending: %s", request.method, request.path,
                type(exc.orig or exc).__name__)
    is_admin = _viewer_is_admin()
    try:
        return render_template("admin/upgrade/needed.html", is_admin=is_admin), 503
    except Exception:
        db.session.rollback()
        log.exception("rendering the upgrade-needed page failed")
        return render_template("errors/minimal.html", code=503), 503


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
