"""The outbox page: blueprint ``outbox`` at /admin/outbox, for administrators only (it lists mail about
tickets of every category, which staff with ``can_man_settings`` may not all see).

The mails the help desk queued, sent and gave up on (after ``mailer.MAX_ATTEMPTS`` failed deliveries), with
the kind of the last error only (its text may quote the server, an address or the login), and a "retry"
button for failed ones. Delivery itself lives in ``hesk_py/services/mailer.py``.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm

from admin.security import require_admin
from hesk_py.models import OUTBOX_FAILED, OUTBOX_QUEUED, OUTBOX_SENT
from hesk_py.services import mailer

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

PER_PAGE = 50
STATUSES = ((OUTBOX_QUEUED, _l("Queued")), (OUTBOX_FAILED, _l("Failed")), (OUTBOX_SENT, _l("Sent")))


class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


@bp.get("")
@require_admin
def index():
    status = request.args.get("status", OUTBOX_QUEUED)
    if status not in dict(STATUSES):
        abort(404)
    page = request.args.get("page", 1, type=int) or 1
    messages, pages = mailer.list_messages(status, page=page, per_page=PER_PAGE)
    return render_template("admin/outbox/index.html", status=status, statuses=STATUSES,
                           counts=mailer.status_counts(), messages=messages, page=min(max(page, 1), pages),
                           pages=pages, error_class=mailer.error_class, max_attempts=mailer.MAX_ATTEMPTS,
                           action=ActionForm())


@bp.post("/<int:message_id>/retry")
@require_admin
def retry(message_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    if not mailer.retry([message_id]):
        flash(_("That email is not among the failed ones any more."), "error")
    else:
        flash(_("The email is queued again and will be sent shortly."), "success")
    return redirect(url_for("admin.outbox.index", status=OUTBOX_FAILED), code=303)


@bp.post("/retry")
@require_admin
def retry_all():
    if not ActionForm().validate_on_submit():
        abort(400)
    n = mailer.retry()
    flash(ngettext("%(num)s failed email is queued again.", "%(num)s failed emails are queued again.", n),
          "success")
    return redirect(url_for("admin.outbox.index", status=OUTBOX_QUEUED), code=303)
