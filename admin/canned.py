"""Staff pages of the canned responses: blueprint ``canned`` at /admin/canned (``can_man_canned``).

List (in order, move up/down), create, edit, delete after a confirmation. A canned response is the
text staff insert into a reply from the ticket view's picker, with HESK's %%HESK_...%% tags filled in
(hesk_py/services/canned.py). The ticket templates' pages (admin/ticket_templates.py) are the same
pages for another list: ``register_pages`` builds them for either.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from admin.security import require_feature
from hesk_py.models.canned import CannedResponse
from hesk_py.services import canned as service

bp = Blueprint("canned", __name__, url_prefix="/canned")


class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


class CannedForm(FlaskForm):
    # lengths and "required" are checked by the service, whose messages go beside the fields
    title = StringField(_l("Title"))
    message = TextAreaField(_l("Text"), render_kw={"rows": 12})


class TemplateForm(CannedForm):
    subject = StringField(_l("Subject of the new ticket"))


@dataclass(frozen=True)
class Kind:
    """What differs between the canned responses' pages and the ticket templates' pages."""
    name: str  # blueprint name = template folder
    model: type
    feature: str
    form: type
    tags: tuple
    labels: dict


CANNED = Kind(
    name="canned", model=CannedResponse, feature="can_man_canned", form=CannedForm,
    tags=tuple(service.TAGS),
    labels={
        "list": _l("Canned responses"),
        "lead": _l("Texts ready to insert into a reply, with the ticket's details filled in where you put "
                   "tags. Pick one under the reply box of a ticket."),
        "new": _l("New canned response"), "edit": _l("Edit canned response"),
        "empty": _l("No canned responses yet."),
        "created": _l("Canned response \"%(title)s\" saved."), "saved": _l("Canned response saved."),
        "deleted": _l("Canned response \"%(title)s\" deleted."),
        "delete": _l("Delete canned response"),
    },
)


def register_pages(blueprint: Blueprint, kind: Kind) -> None:
    """The list, new, edit, delete and move routes of one kind on ``blueprint``."""
    guard = require_feature(kind.feature)

    def page(name: str, **ctx):
        return render_template(f"admin/{kind.name}/{name}.html", kind=kind, labels=kind.labels,
                               ep=f"admin.{kind.name}", **ctx)

    def load(item_id: int):
        try:
            return service.get(kind.model, item_id)
        except service.CannedNotFound:
            abort(404)

    def apply_errors(form, exc: service.InvalidCannedData) -> None:
        for key, message in exc.errors.items():
            field = getattr(form, key, None)
            if field is not None:
                field.errors = list(field.errors) + [message]
            else:
                flash(message, "error")

    def fields(form) -> dict:
        data = {"title": form.title.data, "message": form.message.data}
        if hasattr(form, "subject"):
            data["subject"] = form.subject.data
        return data

    def index():
        return page("index", items=service.items(kind.model), action=ActionForm())

    def new():
        form = kind.form()
        if form.validate_on_submit():
            try:
                row = service.create(kind.model, **fields(form))
            except service.InvalidCannedData as exc:
                apply_errors(form, exc)
            else:
                flash(kind.labels["created"] % {"title": row.title}, "success")
                return redirect(url_for(f"admin.{kind.name}.index"), code=303)
        return page("form", form=form, item=None, tags=kind.tags), (400 if request.method == "POST" else 200)

    def edit(item_id: int):
        row = load(item_id)
        form = kind.form(obj=row)
        if form.validate_on_submit():
            try:
                service.update(kind.model, row.id, **fields(form))
            except service.InvalidCannedData as exc:
                apply_errors(form, exc)
            else:
                flash(kind.labels["saved"], "success")
                return redirect(url_for(f"admin.{kind.name}.index"), code=303)
        return page("form", form=form, item=row, tags=kind.tags), (400 if request.method == "POST" else 200)

    def delete(item_id: int):
        row = load(item_id)
        form = ActionForm()
        if request.method == "POST":
            if not form.validate_on_submit():
                abort(400)
            title = row.title
            service.delete(kind.model, row.id)
            flash(kind.labels["deleted"] % {"title": title}, "success")
            return redirect(url_for(f"admin.{kind.name}.index"), code=303)
        return page("delete", item=row, form=form)

    def move(item_id: int):
        if not ActionForm().validate_on_submit():
            abort(400)
        try:
            service.move(kind.model, item_id, -1 if request.form.get("direction") == "up" else 1)
        except service.CannedNotFound:
            abort(404)
        return redirect(url_for(f"admin.{kind.name}.index"), code=303)

    blueprint.add_url_rule("/", "index", guard(index), methods=["GET"])
    blueprint.add_url_rule("/new", "new", guard(new), methods=["GET", "POST"])
    blueprint.add_url_rule("/<int:item_id>/edit", "edit", guard(edit), methods=["GET", "POST"])
    blueprint.add_url_rule("/<int:item_id>/delete", "delete", guard(delete), methods=["GET", "POST"])
    blueprint.add_url_rule("/<int:item_id>/move", "move", guard(move), methods=["POST"])


register_pages(bp, CANNED)
