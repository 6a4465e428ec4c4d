"""Staff pages of bans and mutes (HESK's Tools -> Ban emails / Ban IPs): blueprint ``bans`` at /admin/bans.

- /admin/bans/emails: banned addresses and @domains (``can_ban_emails`` adds, ``can_unban_emails`` removes);
- /admin/bans/ips: banned IPs, ranges, CIDR blocks and wildcards, and the temporary bans of addresses with
  too many failed attempts, each with the minutes left (``can_ban_ips`` adds and makes a temporary ban
  permanent, ``can_unban_ips`` removes and lifts);
- /admin/bans/mutes: muted addresses and @domains, whose tickets are accepted but who get no mail
  (``can_mute_emails`` / ``can_unmute_emails``).

Each page is open to whoever holds one of its two keys; each change checks its own. The rules live in
hesk_py/services/bans.py.
"""
from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from admin.forms import ActionForm, BanEmailForm, BanIPForm, MuteEmailForm
from admin.security import require_feature
from hesk_py import settings
from hesk_py.services import bans

bp = Blueprint("bans", __name__, url_prefix="/bans")

# the pages, in menu order: (endpoint, the keys that open it)
PAGES = (
    ("emails", ("can_ban_emails", "can_unban_emails")),
    ("ips", ("can_ban_ips", "can_unban_ips")),
    ("mutes", ("can_mute_emails", "can_unmute_emails")),
)
KEYS = tuple(key for _page, keys in PAGES for key in keys)


def _any_of(*features: str):
    """403 unless the user has at least one of these permission keys (administrators have all)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or not any(current_user.can(f) for f in features):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _tabs() -> list[tuple[str, str]]:
    labels = {"emails": _("Banned emails"), "ips": _("Banned IPs"), "mutes": _("Muted emails")}
    return [(page, labels[page]) for page, keys in PAGES if any(current_user.can(k) for k in keys)]


def _checked_action() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def _me_id() -> int:
    return current_user.id


def _render(page: str, status: int = 200, **context):
    return render_template(f"admin/bans/{page}.html", tabs=_tabs(), page=page, action=ActionForm(),
                           **context), status


def _add(form, field, add):
    """Validate the form and return ``add(value)``; None with the error beside ``field``."""
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return None
    try:
        return add(field.data or "")
    except (bans.InvalidBan, bans.AlreadyListed) as exc:
        field.errors = [*field.errors, str(exc)]
        return None


# --- the menu entry -------------------------------------------------------------------------------------

@bp.get("/")
@_any_of(*KEYS)
def index():
    first = _tabs()[0][0]
    return redirect(url_for(f".{first}"))


# --- banned emails --------------------------------------------------------------------------------------

@bp.route("/emails", methods=["GET", "POST"])
@_any_of("can_ban_emails", "can_unban_emails")
def emails():
    form = BanEmailForm()
    status = 200
    if request.method == "POST":
        if not current_user.can("can_ban_emails"):
            abort(403)
        ban = _add(form, form.email, lambda v: bans.ban_email(v, banned_by_id=_me_id(), refuse_duplicate=True))
        if ban is not None:
            flash(_("%(value)s is banned: it can no longer submit tickets.", value=ban.email), "success")
            return redirect(url_for(".emails"), code=303)
        status = 400
    return _render("emails", status, form=form, rows=bans.email_bans())


@bp.post("/emails/<int:ban_id>/delete")
@require_feature("can_unban_emails")
def unban_email(ban_id: int):
    _checked_action()
    try:
        bans.unban_email(ban_id)
    except bans.NotFound:
        abort(404)
    flash(_("The email ban is removed."), "success")
    return redirect(url_for(".emails"), code=303)


# --- banned IPs and temporary bans ----------------------------------------------------------------------

@bp.route("/ips", methods=["GET", "POST"])
@_any_of("can_ban_ips", "can_unban_ips")
def ips():
    form = BanIPForm()
    status = 200
    if request.method == "POST":
        if not current_user.can("can_ban_ips"):
            abort(403)
        ban = _add(form, form.ip, lambda v: bans.ban_ip(v, banned_by_id=_me_id(), refuse_duplicate=True))
        if ban is not None:
            flash(_("%(value)s is banned.", value=ban.ip_display), "success")
            return redirect(url_for(".ips"), code=303)
        status = 400
    return _render("ips", status, form=form, rows=bans.ip_bans(), temporary=bans.temporary_bans(),
                   attempt_limit=int(settings.get("attempt_limit")),
                   attempt_banmin=int(settings.get("attempt_banmin")))


@bp.post("/ips/<int:ban_id>/delete")
@require_feature("can_unban_ips")
def unban_ip(ban_id: int):
    _checked_action()
    try:
        bans.unban_ip(ban_id)
    except bans.NotFound:
        abort(404)
    flash(_("The IP ban is removed."), "success")
    return redirect(url_for(".ips"), code=303)


@bp.post("/temporary/<int:attempt_id>/ban")
@require_feature("can_ban_ips")
def ban_permanently(attempt_id: int):
    _checked_action()
    try:
        ban = bans.ban_permanently(attempt_id, banned_by_id=_me_id())
    except bans.NotFound:
        flash(_("That temporary ban has ended meanwhile."), "error")
        return redirect(url_for(".ips"), code=303)
    flash(_("%(value)s is banned permanently.", value=ban.ip_display), "success")
    return redirect(url_for(".ips"), code=303)


@bp.post("/temporary/<int:attempt_id>/delete")
@require_feature("can_unban_ips")
def lift_temporary(attempt_id: int):
    _checked_action()
    try:
        ip = bans.lift_temporary_ban(attempt_id)
    except bans.NotFound:
        flash(_("That temporary ban has ended meanwhile."), "error")
        return redirect(url_for(".ips"), code=303)
    flash(_("%(value)s may try again now.", value=ip), "success")
    return redirect(url_for(".ips"), code=303)


# --- muted emails ---------------------------------------------------------------------------------------

@bp.route("/mutes", methods=["GET", "POST"])
@_any_of("can_mute_emails", "can_unmute_emails")
def mutes():
    form = MuteEmailForm()
    status = 200
    if request.method == "POST":
        if not current_user.can("can_mute_emails"):
            abort(403)
        mute = _add(form, form.email, lambda v: bans.mute_email(v, muted_by_id=_me_id(), refuse_duplicate=True))
        if mute is not None:
            flash(_("%(value)s is muted: its tickets are accepted, no email is sent to it.", value=mute.email),
                  "success")
            return redirect(url_for(".mutes"), code=303)
        status = 400
    return _render("mutes", status, form=form, rows=bans.email_mutes())


@bp.post("/mutes/<int:mute_id>/delete")
@require_feature("can_unmute_emails")
def unmute(mute_id: int):
    _checked_action()
    try:
        bans.unmute_email(mute_id)
    except bans.NotFound:
        abort(404)
    flash(_("The address is no longer muted."), "success")
    return redirect(url_for(".mutes"), code=303)
