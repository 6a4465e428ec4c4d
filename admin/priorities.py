"""Staff pages of the ticket priorities: blueprint ``priorities`` at /admin/priorities
(``can_man_settings``, as the statuses).

The four built-in priorities can be renamed and recoloured; custom ones have a colour, an order and
"customers can choose", and can be deleted while no ticket or category default uses them.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from admin.forms import ActionForm, ManagePriorityForm
from admin.security import require_feature
from admin.statuses import apply_errors
from hesk_py.extensions import db
from hesk_py.services import workflow
from hesk_py.services.defaults import label

bp = Blueprint("priorities", __name__, url_prefix="/priorities")
guard = require_feature("can_man_settings")


def _load(priority_id: int):
    try:
        return workflow.get_priority(priority_id)
    except workflow.NotFound:
        abort(404)


@bp.route("/", methods=["GET"])
@guard
def index():
    return render_template("admin/priorities/index.html", rows=workflow.priorities_with_counts(), label=label,
                           action=ActionForm())


def _edit(priority):
    form = ManagePriorityForm(obj=priority) if request.method != "POST" and priority else ManagePriorityForm()
    if request.method != "POST" and priority is None:
        form.color.data, form.can_customers_select.data = "#6c757d", True
    if form.validate_on_submit():
        try:
            saved = workflow.save_priority(priority.id if priority else None, name=form.name.data,
                                           color=form.color.data,
                                           can_customers_select=form.can_customers_select.data)
        except workflow.InvalidData as exc:
            db.session.rollback()
            apply_errors(form, exc.errors)
        else:
            flash(_('Priority "%(name)s" saved.', name=saved.name), "success")
            return redirect(url_for("admin.priorities.index"), code=303)
    return render_template("admin/priorities/form.html", form=form, priority=priority), (
        400 if request.method == "POST" else 200)


@bp.route("/new", methods=["GET", "POST"])
@guard
def new():
    return _edit(None)


@bp.route("/<int:priority_id>/edit", methods=["GET", "POST"])
@guard
def edit(priority_id: int):
    return _edit(_load(priority_id))


@bp.route("/<int:priority_id>/move", methods=["POST"])
@guard
def move(priority_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        workflow.move_priority(priority_id, -1 if request.form.get("direction") == "up" else 1)
    except workflow.NotFound:
        abort(404)
    return redirect(url_for("admin.priorities.index"), code=303)


@bp.route("/<int:priority_id>/delete", methods=["POST"])
@guard
def delete(priority_id: int):
    priority = _load(priority_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = label(priority)
    try:
        workflow.delete_priority(priority.id)
    except workflow.Undeletable:
        flash(_("Built-in priorities cannot be deleted."), "error")
    except workflow.InUse as exc:
        flash(ngettext('"%(name)s" is used by %(n)s ticket or category and cannot be deleted.',
                       '"%(name)s" is used by %(n)s tickets or categories and cannot be deleted.', exc.count,
                       name=name, n=exc.count), "error")
    else:
        flash(_('Priority "%(name)s" deleted.', name=name), "success")
    return redirect(url_for("admin.priorities.index"), code=303)
