"""Staff pages of the custom fields: blueprint ``custom_fields`` at /admin/custom_fields (``can_man_settings``,
as in HESK).

List in order (move up/down), create and edit (type and its options, public or staff-only, required rule,
before or after the message, all or chosen categories, the name in each language), delete after a
confirmation that says how many tickets lose their value. The customer and staff forms show and check
the fields (hesk_py/services/custom_fields.py, which also holds the rules used here).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin.forms import CUSTOM_FIELD_TYPES, ActionForm, CustomFieldForm, choices
from admin.security import require_feature
from hesk_py.extensions import db
from hesk_py.models import Category
from hesk_py.services import custom_fields as service

bp = Blueprint("custom_fields", __name__, url_prefix="/custom_fields")
guard = require_feature("can_man_settings")

TYPE_OPTION_KEYS = ("max_length", "default", "rows", "options", "no_default", "select_prompt", "date_min",
                    "date_max", "multiple")
# which option inputs each type uses (the page shows all; its script hides those of other types)
OPTION_TYPES = {
    "max_length": ("text", "hidden"),
    "default": ("text", "hidden", "textarea", "radio", "select"),
    "rows": ("textarea",),
    "options": ("radio", "select", "checkbox"),
    "no_default": ("radio",),
    "select_prompt": ("select",),
    "date_min": ("date",),
    "date_max": ("date",),
    "multiple": ("email",),
}


def _load(field_id: int):
    try:
        return service.get_field(field_id)
    except service.FieldNotFound:
        abort(404)


def _categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.sort_order, Category.id)))


def _form_for(field=None) -> CustomFieldForm:
    if request.method == "POST" or field is None:
        form = CustomFieldForm()
    else:
        opts = field.options or {}
        names = field.names or {}
        data = {
            "type": field.type, "enabled": field.enabled, "visibility": field.visibility,
            "required": field.required, "place": field.place,
            "category_mode": "all" if field.category_ids is None else "chosen",
            "categories": [str(c) for c in field.category_ids or []],
            "max_length": str(opts.get("max_length") or ""), "default": str(opts.get("default") or ""),
            "rows": str(opts.get("rows") or ""), "options": "\n".join(opts.get("options") or []),
            "no_default": bool(opts.get("no_default")), "select_prompt": bool(opts.get("select_prompt", True)),
            "date_min": opts.get("min") or "", "date_max": opts.get("max") or "",
            "multiple": bool(opts.get("multiple")),
        }
        data.update({f"name_{lang}": names.get(lang, "") for lang in service.NAME_LANGUAGES})
        form = CustomFieldForm(data=data)
    form.categories.choices = choices((str(c.id), c.name) for c in _categories())
    return form


def _save(form: CustomFieldForm, field_id: int | None):
    """Save; returns the field, or None with the errors put beside the fields."""
    category_ids = None
    if form.category_mode.data == "chosen":
        category_ids = []
        for value in form.categories.data or []:
            try:
                category_ids.append(int(value))
            except (TypeError, ValueError):
                category_ids.append(0)  # unknown: the service refuses it
    try:
        return service.save_field(
            field_id, type=form.type.data, enabled=form.enabled.data, visibility=form.visibility.data,
            required=form.required.data, place=form.place.data, category_ids=category_ids,
            names={lang: getattr(form, f"name_{lang}").data for lang in service.NAME_LANGUAGES},
            type_options={key: getattr(form, key).data for key in TYPE_OPTION_KEYS})
    except service.InvalidField as exc:
        db.session.rollback()
        for key, message in exc.errors.items():
            field = getattr(form, key, None)
            if field is not None:
                field.errors = [*field.errors, message]
            else:
                flash(message, "error")
        return None


def _render_form(form, field, status):
    return render_template("admin/custom_fields/form.html", form=form, field=field, option_types=OPTION_TYPES,
                           languages=service.NAME_LANGUAGES), status


@bp.get("/")
@guard
def index():
    categories = {c.id: c.name for c in _categories()}
    return render_template("admin/custom_fields/index.html", rows=service.all_fields(), categories=categories,
                           label=service.label, action=ActionForm(), types=dict(CUSTOM_FIELD_TYPES))


@bp.route("/new", methods=["GET", "POST"])
@guard
def new():
    form = _form_for()
    if form.validate_on_submit():
        field = _save(form, None)
        if field is not None:
            flash(_('Custom field "%(name)s" created.', name=service.label(field)), "success")
            return redirect(url_for(".index"), code=303)
    return _render_form(form, None, 400 if request.method == "POST" else 200)


@bp.route("/<int:field_id>/edit", methods=["GET", "POST"])
@guard
def edit(field_id: int):
    field = _load(field_id)
    form = _form_for(field)
    if form.validate_on_submit():
        if _save(form, field.id) is not None:
            flash(_("Custom field saved."), "success")
            return redirect(url_for(".index"), code=303)
    return _render_form(form, field, 400 if request.method == "POST" else 200)


@bp.post("/<int:field_id>/move")
@guard
def move(field_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        service.move_field(field_id, -1 if request.form.get("direction") == "up" else 1)
    except service.FieldNotFound:
        abort(404)
    return redirect(url_for(".index"), code=303)


@bp.route("/<int:field_id>/delete", methods=["GET", "POST"])
@guard
def delete(field_id: int):
    field = _load(field_id)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        name = service.label(field)
        removed = service.delete_field(field.id)
        flash(_('Custom field "%(name)s" deleted with its value on %(n)s tickets.', name=name, n=removed), "success")
        return redirect(url_for(".index"), code=303)
    return render_template("admin/custom_fields/delete.html", form=form, field=field, label=service.label,
                           count=service.stored_value_count(field))
