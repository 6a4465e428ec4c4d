"""The mail quarantine page: blueprint ``quarantine`` at /admin/quarantine, for administrators only (the
mails may concern tickets of any category).

Emails that piping or IMAP/POP3 fetching could not import, with the reason; each can be downloaded as it
arrived (.eml, always as a download), imported again (after fixing what stopped it) or deleted. The rules
live in ``hesk_py/services/quarantine.py``.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from admin.security import require_admin
from hesk_py.services import quarantine

bp = Blueprint("quarantine", __name__, url_prefix="/quarantine")

PER_PAGE = 50


class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


@bp.get("")
@require_admin
def index():
    page = request.args.get("page", 1, type=int) or 1
    mails, pages, total = quarantine.list_mails(page=page, per_page=PER_PAGE)
    return render_template("admin/quarantine/index.html", mails=mails, pages=pages, total=total,
                           page=min(max(page, 1), pages), sizes=quarantine.sizes([m.id for m in mails]),
                           action=ActionForm())


@bp.get("/<int:mail_id>.eml")
@require_admin
def download(mail_id: int):
    try:
        row = quarantine.get_mail(mail_id)
    except quarantine.QuarantinedMailNotFound:
        abort(404)
    return Response(bytes(row.raw), mimetype="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="quarantine-{row.id}.eml"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


@bp.post("/<int:mail_id>/import")
@require_admin
def import_again(mail_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = quarantine.import_again(mail_id)
    except quarantine.QuarantinedMailNotFound:
        abort(404)
    if result.action in ("created", "replied"):
        flash(_("Email #%(id)s imported: %(result)s", id=mail_id, result=result.reason), "success")
    elif result.action == "quarantined":
        flash(_("Email #%(id)s still cannot be imported: %(result)s", id=mail_id, result=result.reason), "error")
    else:
        flash(_("Email #%(id)s was not imported: %(result)s", id=mail_id, result=result.reason), "error")
    return redirect(url_for("admin.quarantine.index"), code=303)


@bp.post("/<int:mail_id>/delete")
@require_admin
def delete(mail_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        quarantine.delete_mail(mail_id)
    except quarantine.QuarantinedMailNotFound:
        abort(404)
    flash(_("Email #%(id)s deleted from the quarantine.", id=mail_id), "success")
    return redirect(url_for("admin.quarantine.index"), code=303)
