"""Staff pages of the ticket statuses: blueprint ``statuses`` at /admin/statuses (``can_man_settings``:
HESK keeps statuses among the help desk settings).

The six built-in statuses can be renamed and recoloured; custom ones also have a class (open, waiting on
the customer, closed: what counts as open, what auto-close and reports treat as closed), "customers can
set this", and can be deleted while no ticket uses them. Rules live in hesk_py/services/workflow.py.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from admin.forms import ActionForm, ManageStatusForm
from admin.security import require_feature
from hesk_py.extensions import db
from hesk_py.services import workflow
from hesk_py.services.defaults import label

bp = Blueprint("statuses", __name__, url_prefix="/statuses")
guard = require_feature("can_man_settings")


def apply_errors(form, errors: dict[str, str]) -> None:
    for key, message in errors.items():
        field = getattr(form, key, None)
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "error")


def _load(status_id: int):
    try:
        return workflow.get_status(status_id)
    except workflow.NotFound:
        abort(404)


@bp.route("/", methods=["GET"])
@guard
def index():
    return render_template("admin/statuses/index.html", rows=workflow.statuses_with_counts(), label=label,
                           action=ActionForm())


def _edit(status):
    form = ManageStatusForm(obj=status) if request.method != "POST" and status else ManageStatusForm()
    if request.method != "POST" and status is None:
        form.color.data, form.kind.data = "#6c757d", "open"
    if form.validate_on_submit():
        try:
            saved = workflow.save_status(status.id if status else None, name=form.name.data, color=form.color.data,
                                         kind=form.kind.data, can_customers_change=form.can_customers_change.data)
        except workflow.InvalidData as exc:
            db.session.rollback()
            apply_errors(form, exc.errors)
        else:
            flash(_('Status "%(name)s" saved.', name=saved.name), "success")
            return redirect(url_for("admin.statuses.index"), code=303)
    return render_template("admin/statuses/form.html", form=form, status=status), (
        400 if request.method == "POST" else 200)


@bp.route("/new", methods=["GET", "POST"])
@guard
def new():
    return _edit(None)


@bp.route("/<int:status_id>/edit", methods=["GET", "POST"])
@guard
def edit(status_id: int):
    return _edit(_load(status_id))


@bp.route("/<int:status_id>/delete", methods=["POST"])
@guard
def delete(status_id: int):
    status = _load(status_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = label(status)
    try:
        workflow.delete_status(status.id)
    except workflow.Undeletable:
        flash(_("Built-in statuses cannot be deleted."), "error")
    except workflow.InUse as exc:
        flash(ngettext('"%(name)s" is used by %(n)s ticket and cannot be deleted.',
                       '"%(name)s" is used by %(n)s tickets and cannot be deleted.', exc.count, name=name, n=exc.count), "error")
    else:
        flash(_('Status "%(name)s" deleted.', name=name), "success")
    return redirect(url_for("admin.statuses.index"), code=303)
