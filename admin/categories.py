"""Staff pages of the ticket categories: blueprint ``categories`` at /admin/categories (``can_man_cat``).

List in order with the ticket count and the public form's direct link, move up/down, sort by name,
create, edit (public or private, default priority, auto-assign mode and staff, default due date),
delete after choosing where its tickets go. Rules live in hesk_py/services/workflow.py.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from admin.forms import ActionForm, DeleteCategoryForm, ManageCategoryForm, choices
from admin.security import require_feature
from hesk_py.extensions import db
from hesk_py.models import Priority, User
from hesk_py.services import tickets as ticket_service
from hesk_py.services import workflow
from hesk_py.services.defaults import label

bp = Blueprint("categories", __name__, url_prefix="/categories")
guard = require_feature("can_man_cat")


def _load(category_id: int):
    try:
        return workflow.get_category(category_id)
    except workflow.NotFound:
        abort(404)


def _apply_errors(form, errors: dict[str, str]) -> None:
    for key, message in errors.items():
        field = getattr(form, key, None)
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "error")


def _fill_choices(form: ManageCategoryForm) -> None:
    priorities = db.session.scalars(select(Priority).order_by(Priority.sort_order, Priority.id))
    form.default_priority.choices = choices((str(p.id), label(p)) for p in priorities)
    staff = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.id))
    form.autoassign_users.choices = choices((str(u.id), u.name) for u in staff)


def _form_for(category=None) -> ManageCategoryForm:
    if request.method == "POST" or category is None:
        form = ManageCategoryForm()
        if category is None and request.method != "POST":
            form.autoassign.data = "any"
            form.default_priority.data = "4"
    else:
        mode, users = workflow.autoassign_mode(category)
        form = ManageCategoryForm(data={
            "name": category.name, "is_public": "1" if category.is_public else "0",
            "default_priority": str(category.default_priority_id or ""), "autoassign": mode,
            "autoassign_users": [str(u) for u in users],
            "due_amount": str(category.default_due_amount or ""), "due_unit": category.default_due_unit or "day"})
    _fill_choices(form)
    return form


def _save(form: ManageCategoryForm, category_id: int | None):
    """Validate and save; returns the category, or None with the errors put beside the fields."""
    errors: dict[str, str] = {}
    due_text = (form.due_amount.data or "").strip()
    due_amount = None
    if due_text:
        if due_text.isdigit():
            due_amount = int(due_text)
        else:  # 0 makes the service refuse it too, so nothing is saved; our message replaces its own
            due_amount = 0
            errors["due_amount"] = _("Enter a whole number of days, weeks or months, or leave it empty.")
    try:
        priority_id = int(form.default_priority.data)
    except (TypeError, ValueError):
        priority_id = None
    try:
        users = [int(u) for u in form.autoassign_users.data or ()]
    except ValueError:
        users = [0]
    try:
        return workflow.save_category(
            category_id, name=form.name.data, is_public=form.is_public.data == "1",
            default_priority_id=priority_id, autoassign=form.autoassign.data,
            autoassign_users=users if form.autoassign.data in ("only", "except") else [],
            due_amount=due_amount, due_unit=form.due_unit.data)
    except workflow.InvalidData as exc:
        db.session.rollback()
        _apply_errors(form, {**exc.errors, **errors})
        return None


@bp.route("/", methods=["GET"])
@guard
def index():
    rows = workflow.categories_with_counts()
    priorities = {p.id: p for p in db.session.scalars(select(Priority))}
    return render_template("admin/categories/index.html", rows=rows, priorities=priorities, label=label,
                           action=ActionForm(), default_id=workflow.DEFAULT_CATEGORY_ID)


@bp.route("/new", methods=["GET", "POST"])
@guard
def new():
    form = _form_for()
    if form.validate_on_submit():
        category = _save(form, None)
        if category is not None:
            flash(_('Category "%(name)s" created.', name=category.name), "success")
            return redirect(url_for("admin.categories.index"), code=303)
    return render_template("admin/categories/form.html", form=form, category=None), (
        400 if request.method == "POST" else 200)


@bp.route("/<int:category_id>/edit", methods=["GET", "POST"])
@guard
def edit(category_id: int):
    category = _load(category_id)
    form = _form_for(category)
    if form.validate_on_submit():
        if _save(form, category.id) is not None:
            flash(_("Category saved."), "success")
            return redirect(url_for("admin.categories.index"), code=303)
    return render_template("admin/categories/form.html", form=form, category=category), (
        400 if request.method == "POST" else 200)


@bp.route("/<int:category_id>/move", methods=["POST"])
@guard
def move(category_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        workflow.move_category(category_id, -1 if request.form.get("direction") == "up" else 1)
    except workflow.NotFound:
        abort(404)
    return redirect(url_for("admin.categories.index"), code=303)


@bp.route("/sort", methods=["POST"])
@guard
def sort():
    if not ActionForm().validate_on_submit():
        abort(400)
    workflow.sort_categories_by_name()
    flash(_("Categories sorted by name."), "success")
    return redirect(url_for("admin.categories.index"), code=303)


@bp.route("/<int:category_id>/delete", methods=["GET", "POST"])
@guard
def delete(category_id: int):
    category = _load(category_id)
    if category.id == workflow.DEFAULT_CATEGORY_ID:
        flash(_("The default category cannot be deleted."), "error")
        return redirect(url_for("admin.categories.index"), code=303)
    counts = dict((c.id, n) for c, n in workflow.categories_with_counts())
    form = DeleteCategoryForm()
    form.move_to.choices = choices((str(c.id), c.name) for c, _n in workflow.categories_with_counts()
                                   if c.id != category.id)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        name = category.name
        try:
            moved = workflow.delete_category(category.id, move_to=int(form.move_to.data or 0),
                                             actor=ticket_service.Actor.staff(current_user))
        except (workflow.InvalidData, ValueError) as exc:
            errors = exc.errors if isinstance(exc, workflow.InvalidData) else {}
            _apply_errors(form, errors or {"move_to": _("Choose the category that receives its tickets.")})
            status = 400
        else:
            flash(ngettext('Category "%(name)s" deleted; %(n)s ticket moved.',
                           'Category "%(name)s" deleted; %(n)s tickets moved.', moved, name=name, n=moved), "success")
            return redirect(url_for("admin.categories.index"), code=303)
    elif form.move_to.data is None:
        form.move_to.data = str(workflow.DEFAULT_CATEGORY_ID)
    return render_template("admin/categories/delete.html", form=form, category=category,
                           count=counts.get(category.id, 0)), status
