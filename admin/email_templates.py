"""Staff pages of the email templates: blueprint ``email_templates`` at /admin/email_templates
(``can_email_tpl``, HESK's "Edit email templates"; administrators have every permission).

The list of every notification the help desk sends, per language whether it is the default or edited; an
editor per template and language (subject, plain text, optional HTML) with the list of tags, a preview with
a sample ticket, and "reset to default". The rules live in ``hesk_py/services/email_templates.py``.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from admin.security import require_feature
from hesk_py import settings
from hesk_py.services import email_templates as service

bp = Blueprint("email_templates", __name__, url_prefix="/email_templates")

FEATURE = "can_email_tpl"


class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


class EmailTemplateForm(FlaskForm):
    # required fields, lengths and the template syntax are checked by the service, beside each field
    subject = StringField(_l("Subject"))
    body_text = TextAreaField(_l("Plain text"), render_kw={"rows": 16, "spellcheck": "true"})
    body_html = TextAreaField(_l("HTML (optional)"), render_kw={"rows": 16, "spellcheck": "false"})


def _load(name: str, lang: str) -> service.Info:
    if lang not in service.languages():
        abort(404)
    try:
        return service.info(name)
    except service.EmailTemplateNotFound:
        abort(404)


def _formatting_label() -> str:
    value = settings.get("email_formatting")
    return str(dict(settings.choice_pairs(settings.definition("email_formatting"))).get(value, value))


@bp.get("/")
@require_feature(FEATURE)
def index():
    edited = service.overridden()
    groups = {service.AUDIENCE_CUSTOMER: [], service.AUDIENCE_STAFF: []}
    for name in service.names():
        item = service.info(name)
        groups.setdefault(item.audience, []).append(item)
    return render_template("admin/email_templates/index.html", groups=groups, edited=edited,
                           languages=service.languages(), formatting=_formatting_label())


@bp.route("/<name>/<lang>", methods=["GET", "POST"])
@require_feature(FEATURE)
def edit(name: str, lang: str):
    item = _load(name, lang)
    values, row = service.current(name, lang)
    form = EmailTemplateForm(data=values) if request.method == "GET" else EmailTemplateForm()
    preview = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400  # the CSRF token is missing or stale: nothing is done, the text is kept
            flash(_("The form had expired. Please try again."), "error")
        else:
            typed = {"subject": form.subject.data or "", "body_text": form.body_text.data or "",
                     "body_html": form.body_html.data or ""}
            try:
                if request.form.get("action") == "preview":
                    preview = service.preview(name, lang, staff_name=current_user.name, **typed)
                else:
                    service.save(name, lang, user_id=current_user.id, **typed)
                    flash(_("Email template \"%(title)s\" (%(language)s) saved.", title=item.title,
                            language=service.languages()[lang]), "success")
                    return redirect(url_for("admin.email_templates.edit", name=name, lang=lang), code=303)
            except service.InvalidEmailTemplate as exc:
                for key, message in exc.errors.items():
                    form[key].errors = list(form[key].errors or []) + [message]
                status = 400
    return render_template(
        "admin/email_templates/edit.html", item=item, lang=lang, languages=service.languages(), form=form,
        edited=row is not None, preview=preview, tags=service.tags(name), action=ActionForm(),
        formatting=_formatting_label(),
        html_used=int(settings.get("email_formatting")) != service.FORMAT_TEXT,
    ), status


@bp.post("/<name>/<lang>/reset")
@require_feature(FEATURE)
def reset(name: str, lang: str):
    item = _load(name, lang)
    if not ActionForm().validate_on_submit():
        abort(400)
    if service.reset(name, lang):
        flash(_("Email template \"%(title)s\" (%(language)s) is back to the default.", title=item.title,
                language=service.languages()[lang]), "success")
    return redirect(url_for("admin.email_templates.edit", name=name, lang=lang), code=303)
