"""Staff page for service messages: blueprint ``service_messages`` at /admin/service_messages.

Every route needs ``can_service_msg``. The list (with drafts), a form to write or edit a message,
delete and move up/down by POST with the CSRF token. The rules live in
``hesk_py/services/service_messages.py``.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from admin.security import require_feature
from hesk_py.i18n import LANGUAGES
from hesk_py.models.service_messages import (
    FORMAT_MARKDOWN, FORMAT_PLAIN, STYLE_ERROR, STYLE_INFO, STYLE_NOTICE, STYLE_SUCCESS,
)
from hesk_py.services import service_messages as sm

bp = Blueprint("service_messages", __name__, url_prefix="/service_messages")

FEATURE = "can_service_msg"

STYLE_CHOICES = (
    SelectChoice(STYLE_INFO, _l("Info")),
    SelectChoice(STYLE_NOTICE, _l("Notice")),
    SelectChoice(STYLE_SUCCESS, _l("Success")),
    SelectChoice(STYLE_ERROR, _l("Error")),
)
FORMAT_CHOICES = (
    SelectChoice(FORMAT_PLAIN, _l("Plain text")),
    SelectChoice(FORMAT_MARKDOWN, _l("Markdown")),
)


class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


class ServiceMessageForm(FlaskForm):
    # lengths and choices are checked by the service, which says what is wrong beside each field
    title = StringField(_l("Title"), validators=[Length(max=sm.MAX_TITLE)])
    message = TextAreaField(_l("Message"))
    format = RadioField(_l("Written in"), default=FORMAT_PLAIN, choices=FORMAT_CHOICES, validate_choice=False)
    style = RadioField(_l("Style"), default=STYLE_INFO, choices=STYLE_CHOICES, validate_choice=False)
    language = SelectField(_l("Language"), validate_choice=False)
    published = BooleanField(_l("Published: customers see it on the help desk's home page"), default=True)


def _form(**kw) -> ServiceMessageForm:
    form = ServiceMessageForm(**kw)
    form.language.choices = [("", _("All languages"))] + list(LANGUAGES.items())
    return form


def _values(form: ServiceMessageForm) -> dict:
    return {"title": form.title.data or "", "message": form.message.data or "", "style": form.style.data,
            "format": form.format.data, "language": form.language.data or None,
            "published": bool(form.published.data)}


def _apply_errors(form: ServiceMessageForm, exc: sm.InvalidServiceMessage) -> None:
    for name, message in exc.errors.items():
        if name in form:
            form[name].errors = list(form[name].errors or []) + [message]
        else:
            flash(message, "error")


def _page(form, message=None, status=200):
    return render_template("admin/service_messages/form.html", form=form, message=message), status


@bp.get("")
@require_feature(FEATURE)
def index():
    return render_template("admin/service_messages/index.html", messages=sm.all_messages(),
                           languages=LANGUAGES, styles=dict((c.value, c.label) for c in STYLE_CHOICES),
                           action=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
@require_feature(FEATURE)
def new():
    form = _form()
    if form.validate_on_submit():
        try:
            row = sm.create_message(**_values(form), author=current_user)
        except sm.InvalidServiceMessage as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Service message \"%(title)s\" saved.", title=row.title), "success")
            return redirect(url_for("admin.service_messages.index"), code=303)
    return _page(form, status=400 if request.method == "POST" else 200)


@bp.route("/<int:message_id>/edit", methods=["GET", "POST"])
@require_feature(FEATURE)
def edit(message_id: int):
    try:
        row = sm.get_message(message_id)
    except sm.ServiceMessageNotFound:
        abort(404)
    if request.method == "GET":
        form = _form(data={"title": row.title, "message": row.message, "style": row.style, "format": row.format,
                           "language": row.language or "", "published": row.is_published})
    else:
        form = _form()
    if form.validate_on_submit():
        try:
            sm.update_message(row.id, **_values(form))
        except sm.InvalidServiceMessage as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Service message \"%(title)s\" saved.", title=row.title), "success")
            return redirect(url_for("admin.service_messages.index"), code=303)
    return _page(form, row, status=400 if request.method == "POST" else 200)


@bp.post("/<int:message_id>/delete")
@require_feature(FEATURE)
def delete(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        sm.delete_message(message_id)
    except sm.ServiceMessageNotFound:
        abort(404)
    flash(_("Service message deleted."), "success")
    return redirect(url_for("admin.service_messages.index"), code=303)


@bp.post("/<int:message_id>/move")
@require_feature(FEATURE)
def move(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        sm.move_message(message_id, -1 if request.form.get("direction") == "up" else 1)
    except sm.ServiceMessageNotFound:
        abort(404)
    return redirect(url_for("admin.service_messages.index"), code=303)
