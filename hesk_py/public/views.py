"""Pages customers see: home, submit a ticket, view a ticket (reply, resolve, reopen, rate, print,
download), forgot tracking ID, the language picker and the CAPTCHA image.

Views are thin: form -> service (``hesk_py/services/public.py`` and friends) -> render or redirect.
Access to a ticket: the tracking ID plus the email (when ``email_view_ticket``), after which the ticket
is remembered in this browser's signed session, so the reply, resolve, rate and download actions need
no email in their URLs.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.datastructures import MultiDict

from hesk_py import settings
from hesk_py.extensions import csrf, db, limiter, talisman
from hesk_py.i18n import LANGUAGE_COOKIE, LANGUAGES
from hesk_py.models import Attachment, Reply
from hesk_py.public import page_cache
from hesk_py.public.forms import (
    ForgotTrackingIdForm,
    LanguageForm,
    ReplyForm,
    SubmitTicketForm,
    TicketActionForm,
    ViewTicketForm,
)
from hesk_py.services import (
    antispam, attachments, attempts, barcodes, custom_fields, public, service_messages, tickets,
)
from hesk_py.services.defaults import label
from hesk_py.services.errors import InvalidTicketData, TicketNotFound

bp = Blueprint("public", __name__)

EMAIL_COOKIE = "hesk_myemail"
GRANTS = "hesk_tickets"  # session key: tracking IDs this browser has proven access to
FOLLOWING = "hesk_ticket_as"  # session key: tracking ID -> the follower (customer id) this browser came in as
REMEMBERED_CUSTOM = "hesk_custom"  # session key: custom field values of the last ticket (HESK's option)
MAX_GRANTS = 20
# endpoints that work in maintenance mode (nothing: customers see the notice everywhere)
_KB_ONLY_BLOCKED = {"public.submit_ticket", "public.submit_ticket_done", "public.forgot_tracking_id"}


# --- page-wide rules ---------------------------------------------------------------------------------

@bp.before_request
def _modes():
    """Maintenance mode shows a notice on every customer page (staff still log in at /admin); in
    knowledgebase-only mode the ticket form is not offered."""
    if not current_app.config.get("HESK_INSTALLED"):
        return None
    try:
        maintenance, kb_mode = settings.get("maintenance_mode"), int(settings.get("kb_enable"))
    except (OperationalError, DBAPIError):
        # the database is down: the view answers 503 itself (and keeps a posted form)
        db.session.rollback()
        return None
    if maintenance:
        resp = make_response(render_template("public/maintenance.html"), 503)
        resp.headers["Retry-After"] = "600"
        return resp
    if kb_mode == 2 and request.endpoint in _KB_ONLY_BLOCKED:
        kb = knowledgebase_url()
        return redirect(kb) if kb else (render_template("public/kb_only.html"), 404)
    return None


def knowledgebase_url(search: bool = False) -> str | None:
    """The knowledgebase's page (or its search), when the knowledgebase exists and is on."""
    if not int(settings.get("kb_enable")):
        return None
    wanted = "/knowledgebase/search" if search else "/knowledgebase"
    endpoints = current_app.extensions.get("hesk_kb_endpoints")
    if endpoints is None:  # the URL map is fixed once the app runs: look the rules up once
        endpoints = {rule.rule: rule.endpoint for rule in current_app.url_map.iter_rules()
                     if rule.rule in ("/knowledgebase", "/knowledgebase/search") and "GET" in (rule.methods or ())}
        current_app.extensions["hesk_kb_endpoints"] = endpoints
    return url_for(endpoints[wanted]) if wanted in endpoints else None


@bp.app_template_filter("linkify")
def linkify(text: str | None) -> Markup:
    """Plain text as HTML: everything escaped, then http(s) addresses made into links that pass no
    ranking or window handle to the target. The stored text stays exactly what was typed."""
    text = text or ""
    out = []
    pos = 0
    short = _short_links()
    for match in _URL_RE.finditer(text):
        url = match.group(0)
        # trailing punctuation belongs to the sentence, not the address
        while url and (url[-1] in ".,;:!?'\"" or (url[-1] == ")" and url.count("(") < url.count(")"))):
            url = url[:-1]
        if not url or len(url) <= len("https://"):
            continue
        start, end = match.start(), match.start() + len(url)
        out.append(escape(text[pos:start]))
        shown = url if not short or len(url) <= 70 else url[:50] + "…" + url[-15:]
        out.append(Markup('<a href="{0}" rel="nofollow noopener noreferrer">{1}</a>').format(url, shown))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)


@bp.app_template_filter("markdown")
def markdown(text: str | None) -> Markup:
    """Markdown as safe HTML: the knowledgebase's renderer and sanitiser (staff replies written in Markdown
    with ``staff_ticket_formatting``, articles)."""
    from hesk_py.services import knowledgebase

    return knowledgebase.render(text or "")


def _short_links() -> bool:
    try:
        return bool(settings.get("short_link"))
    except Exception:  # noqa: BLE001  (the filter must render even when settings cannot be read)
        return False


def _no_store(resp):
    """Ticket pages are one customer's data: never cached by a proxy or the browser's back button."""
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _client_ip() -> str:
    return request.remote_addr or ""


def _language() -> str:
    return str(get_locale() or settings.get("language") or "en")


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("public.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("public.index")
    return target


# --- home and language -----------------------------------------------------------------------------------

@bp.get("/")
def index():
    kb_only = int(settings.get("kb_enable")) == 2
    kb_home = knowledgebase_url()
    if kb_only and kb_home:
        return redirect(kb_home)
    kept = page_cache.serve("home")  # a first visit: the page as the last first visitor got it
    if kept is not None:
        return kept
    return page_cache.keep(make_response(render_template(
        "public/index.html", kb_only=kb_only, kb_search_url=knowledgebase_url(search=True),
        service_messages=service_messages.for_page(_language()))))


@bp.post("/language")
def language():
    form = LanguageForm()
    form.language.choices = list(LANGUAGES.items())
    target = _safe_next(form.next.data)
    resp = redirect(target)
    if form.validate() and settings.get("can_sel_lang") and form.language.data in LANGUAGES:
        resp.set_cookie(LANGUAGE_COOKIE, form.language.data, max_age=365 * 24 * 3600, httponly=True,
                        samesite="Lax", secure=current_app.config.get("HESK_SECURE_COOKIES", False))
    return resp


@bp.app_context_processor
def _language_picker():
    """The language menu (when customers may choose a language) for every customer page."""
    def picker():
        if not current_app.config.get("HESK_INSTALLED"):
            return None
        try:
            if not settings.get("can_sel_lang"):
                return None
        except Exception:  # noqa: BLE001  (error pages render without the database)
            return None
        form = LanguageForm()
        form.language.choices = list(LANGUAGES.items())
        form.language.data = _language()
        query = request.query_string.decode("latin-1") if request.method == "GET" else ""
        form.next.data = request.script_root + request.path + (f"?{query}" if query else "")
        return form

    return {"language_picker": picker}


# --- submit a ticket -----------------------------------------------------------------------------------

def _submit_limit() -> str:
    return f"{max(1, int(settings.get('spam_tickets_per_hour')))} per hour"


def _submit_limit_off() -> bool:
    return int(settings.get("spam_tickets_per_hour")) == 0


@bp.route("/submit_ticket", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, so an expired session brings the form back, not an error
@limiter.limit(_submit_limit, methods=["POST"], exempt_when=_submit_limit_off)
def submit_ticket():
    if request.method == "POST":
        return _submit_post()
    categories = public.public_categories()
    category = _chosen_category(categories, request.args.get("category") or request.args.get("catid"))
    if category is None:
        return _category_choice(categories)
    # a first visit (no cookie, the category's own URL): the kept page with this visitor's own tokens
    kept = page_cache.serve("form", frozenset({"", f"category={category.id}", f"catid={category.id}"}),
                            form_token=True)
    if kept is not None:
        return kept
    priorities = public.customer_priorities()
    form = SubmitTicketForm(formdata=None, data=_prefill(category, priorities))
    fields = custom_fields.fields_for(category.id)
    remembered = session.get(REMEMBERED_CUSTOM) if settings.get("remember_custom_field_values") else None
    values = {**custom_fields.prefill(fields, remembered or {}), **custom_fields.prefill(fields, request.args)}
    token = antispam.issue_token()
    return page_cache.keep(_render_form(form, category, categories, fields, values, token=token,
                                        priorities=priorities), form_token=token)


def _chosen_category(categories, wanted):
    if len(categories) == 1:
        return categories[0]
    if not categories:
        # HESK: without public categories the form still files into the default category
        return public.public_category(1) or None
    return next((c for c in categories if str(c.id) == str(wanted or "")), None)


def _category_choice(categories):
    limit = int(settings.get("cat_show_select"))
    as_links = limit > 0 and len(categories) <= limit
    notice = request.args.get("category") is not None or request.args.get("catid") is not None
    return render_template("public/submit_ticket_category.html", categories=categories, as_links=as_links,
                           notice=notice), (404 if notice and request.args.get("category") else 200)


def _prefill(category, choices) -> dict:
    """HESK's pre-filling from the URL: name, email, priority, subject, message (and customN)."""
    args = request.args
    data = {"category": str(category.id)}
    for key in ("name", "email", "cc", "subject", "message"):
        if key in args:
            data[key] = args.get(key, "")[:10000]
    if "email" in args:
        data["email2"] = data["email"]
    wanted = args.get("priority")
    if wanted and any(str(p.id) == wanted for p in choices):
        data["priority"] = wanted
    elif not settings.get("select_pri") and choices:
        default = category.default_priority_id
        data["priority"] = str(default if any(p.id == default for p in choices) else choices[-1].id)
    locked = _customer_identity()
    if locked:  # a logged-in customer files under their account's name and address
        data.update(locked, email2=locked["email"])
    return data


def _render_form(form, category, categories, fields, values, *, token, errors=None, status=200,
                 files_dropped=False, captcha_ok=False, priorities=None, email_suggestion=None):
    errors = errors or {}
    if priorities is None:
        priorities = public.customer_priorities()
    choices = [(str(p.id), label(p)) for p in priorities]
    if settings.get("select_pri") or not choices:
        choices = [("", _("- - Click to select - -"))] + choices
    form.priority.choices = choices
    for name, message in errors.items():
        if name in form and name not in ("csrf_token",):
            form[name].errors = [message]
    if not captcha_ok and form.captcha.data and "captcha" in errors:
        form.captcha.data = ""
    widgets = custom_fields.widgets(fields, values, errors, use_defaults=not form.is_submitted())
    before, after = custom_fields.split(widgets)
    summary = [(name, msg) for name, msg in errors.items() if name != "form"]
    body = render_template(
        "public/submit_ticket.html", form=form, category=category, categories=categories,
        several_categories=len(categories) > 1,
        custom_before=before, custom_after=after, token=token, errors=errors, summary=summary,
        form_error=errors.get("form"), files_dropped=files_dropped,
        captcha=antispam.captcha_required(), question=antispam.question_required(),
        question_html=antispam.question_html() if antispam.question_required() else "",
        limits=attachments.limits(), require_subject=int(settings.get("require_subject")),
        require_message=int(settings.get("require_message")), priorities=priorities,
        honeypot=antispam.HONEYPOT_VALUES, email_suggestion=email_suggestion,
    )
    return _no_store(make_response(body, status))


def _posted_files():
    return [f for f in request.files.getlist("attachments") if f and f.filename]


def _submit_post():
    form = SubmitTicketForm()
    files = _posted_files()
    try:
        categories = public.public_categories()
        category = public.public_category(request.form.get("category"))
        if not form.validate():  # only the CSRF token is checked here
            return _back_to_form(form, category, categories, {"form": _(
                "Your session expired before the form was sent. Please check it and submit it again.")},
                files_dropped=bool(files))
        try:
            ticket = public.submit_ticket(public.Submission(data=_with_identity(request.form), files=files,
                                                            ip=_client_ip(), language=_language()))
        except antispam.SpamBlocked:
            abort(403)
        except antispam.AlreadySubmitted as exc:
            if exc.trackid:
                return _submitted(exc.trackid)
            return _back_to_form(form, category, categories, {"form": str(exc)}, new_token=True)
        except public.SubmissionRefused as exc:
            for name, value in exc.corrected.items():  # a typo suggestion the customer took
                if name in form:
                    form[name].data = value
            return _back_to_form(form, category, categories, exc.errors, status=exc.status,
                                 files_dropped=bool(files), email_suggestion=exc.email_suggestion)
    except OperationalError:
        return _database_down_form()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return _database_down_form()
    if settings.get("remember_custom_field_values"):
        # HESK: what was typed in custom fields is offered again on this browser's next ticket
        session[REMEMBERED_CUSTOM] = {k: request.form.getlist(k) for k in request.form
                                      if re.fullmatch(r"custom\d{1,3}", k)}
    return _submitted(ticket.trackid)


def _back_to_form(form, category, categories, errors, *, status=400, files_dropped=False, new_token=False,
                  email_suggestion=None):
    """The form again, with every field as typed and each error beside its field."""
    if files_dropped:
        errors.setdefault("attachments", _("For your security, attached files are not kept: please choose "
                                           "them again."))
    posted = request.form.get(antispam.TOKEN_FIELD)
    token = posted if (not new_token and antispam.read_token(posted)) else antispam.issue_token()
    if category is None:
        # the category posted is gone or private: the form offers the public ones, keeping the rest
        category = _chosen_category(categories, None)
        errors.setdefault("category", _("Please choose a category."))
    fields = custom_fields.fields_for(category.id if category else None)
    values = _posted_custom(fields)
    captcha_ok = antispam.captcha_ok(antispam.read_token(token), form.captcha.data)
    return _render_form(form, category, categories, fields, values, token=token, errors=errors, status=status,
                        files_dropped=files_dropped, captcha_ok=captcha_ok, email_suggestion=email_suggestion)


def _posted_custom(fields) -> dict:
    values = {}
    for f in fields:
        if f.type == "checkbox":
            values[f.form_name] = request.form.getlist(f.form_name)
        elif f.form_name in request.form:
            values[f.form_name] = request.form.get(f.form_name, "")
    return values


def _database_down_form():
    """The database went away: a 503 page that keeps everything typed, ready to be sent again."""
    db.session.rollback()
    kept = MultiDict()
    for key in request.form:
        if key in ("csrf_token",):
            continue
        for value in request.form.getlist(key):
            kept.add(key, value)
    form = SubmitTicketForm(formdata=request.form)
    return _no_store(make_response(render_template(
        "public/submit_ticket_503.html", form=form, kept=kept, visible={"name", "email", "subject", "message"},
        files_dropped=bool(_posted_files())), 503))


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(exc):
    """Too many posts from this address: the form comes back with what was typed and a 429."""
    if request.endpoint == "public.submit_ticket" and request.method == "POST":
        try:
            categories = public.public_categories()
            category = public.public_category(request.form.get("category"))
            form = SubmitTicketForm()
            return _back_to_form(form, category, categories, {"form": _(
                "Too many tickets were sent from your network in the last hour. Please try again later.")},
                status=429, files_dropped=bool(_posted_files()))
        except (OperationalError, DBAPIError):
            return _database_down_form()
    return render_template("errors/generic.html", code=429, description=_(
        "Too many requests from your network. Please wait a while and try again.")), 429


def _submitted(trackid: str):
    _grant(trackid)
    session["hesk_submitted"] = trackid
    return redirect(url_for("public.submit_ticket_done"), code=303)


@bp.get("/submit_ticket/done")
def submit_ticket_done():
    trackid = session.get("hesk_submitted")
    if not trackid or not _has_grant(trackid):
        return redirect(url_for("public.submit_ticket"))
    try:
        ticket = tickets.get_ticket(trackid)
    except TicketNotFound:
        return redirect(url_for("public.submit_ticket"))
    email_sent = bool(ticket.email) and bool(settings.get("notify_new"))
    return _no_store(make_response(render_template(
        "public/submit_ticket_done.html", ticket=ticket, email_sent=email_sent,
        spam_notice=email_sent and settings.get("spam_notice"),
        ticket_url=url_for("public.ticket", track=ticket.trackid, _external=True))))


@bp.get("/captcha")
def captcha():
    token = antispam.read_token(request.args.get("t"))
    if token is None:
        abort(404)
    resp = make_response(antispam.captcha_png(token.nonce))
    resp.headers["Content-Type"] = "image/png"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.app_template_global("email_typo_attrs")
def email_typo_attrs() -> dict:
    """The data-* attributes of an email field for static/js/email-typo.js (the customer and staff ticket
    forms), or {} when typo detection is off."""
    if not settings.get("detect_typos"):
        return {}
    return {"data-typo-url": url_for("public.suggest_email"),
            "data-typo-question": _("Did you mean %(email)s?", email="{email}"),
            "data-typo-use": _("Yes, use %(email)s", email="{email}"),
            "data-typo-keep": _("No, keep %(email)s", email="{value}")}


@bp.get("/suggest_email")
def suggest_email():
    """JSON for the ticket forms' script (HESK's suggest_email.php): ``{"suggestion": "name@gmail.com"}``, or
    null when the address looks right (or typo detection is off). The form asks the same without it."""
    from hesk_py.public.kb import json_response
    from hesk_py.services import email_typos

    return json_response({"suggestion": email_typos.suggestion_for((request.args.get("e") or "")[:300])})


# --- view a ticket -------------------------------------------------------------------------------------

def _grant(trackid: str, follower_id: int | None = None) -> None:
    granted = [t for t in session.get(GRANTS, []) if t != trackid]
    granted.append(trackid)
    session[GRANTS] = granted[-MAX_GRANTS:]
    following = {t: c for t, c in session.get(FOLLOWING, {}).items() if t in session[GRANTS] and t != trackid}
    if follower_id:
        following[trackid] = follower_id
    if following or FOLLOWING in session:
        session[FOLLOWING] = following


def _actor(tk):
    """The requester, or the follower this browser opened the ticket as (their replies are theirs)."""
    return public.customer_actor(tk, session.get(FOLLOWING, {}).get(tk.trackid))


def _has_grant(trackid: str) -> bool:
    return tickets.normalize_trackid(trackid) in session.get(GRANTS, [])


def _lookup_form(track="", email="", *, error=None, notice=None, status=200):
    form = ViewTicketForm(formdata=None, data={"track": track, "e": email or request.cookies.get(EMAIL_COOKIE, ""),
                                               "r": bool(request.cookies.get(EMAIL_COOKIE))})
    body = render_template("public/ticket_lookup.html", form=form, error=error, notice=notice,
                           email_required=public.email_required_to_view() and not _tickets_need_account())
    return _no_store(make_response(body, status))


def _open_ticket(trackid: str, email: str | None):
    """The ticket this request may see, or a response (the look-up form, a block or a ban)."""
    ip = _client_ip()
    try:
        owned = _own_ticket(trackid)
        if owned is not None:  # the logged-in customer's own ticket (filed or followed): no email needed
            public.check_ip(ip)
            _grant(owned.trackid, _account_follower_id(owned))
            return owned, None
        need_account = _tickets_need_account()
        if not need_account and _has_grant(trackid):
            public.check_ip(ip)
            return tickets.get_ticket(trackid), None
        if need_account:  # accounts required: a customer's own tickets only (asked again each time), whatever is typed
            public.check_ip(ip)
            attempts.record_failure(ip)
            raise TicketNotFound(trackid)
        if public.email_required_to_view() and not (email or "").strip():
            return None, _lookup_form(trackid, notice=_("Enter the email address you used for this ticket."))
        ticket = public.find_ticket(trackid, email, ip)
        follower_id = public.viewer_id(ticket, email)
    except public.LookupBlocked as exc:
        return None, _lookup_form(trackid, email or "", error=str(exc), status=429)
    except public.Banned as exc:
        return None, (render_template("errors/403.html", code=403, description=str(exc)), 403)
    except TicketNotFound:
        return None, _lookup_form(trackid, email or "", status=404, error=_(
            "Ticket not found. Please check the tracking ID and the email address."))
    _grant(ticket.trackid, follower_id)
    return ticket, None


@bp.get("/ticket")
def ticket():
    trackid = (request.args.get("track") or "").strip()
    if not trackid:
        return _lookup_form()
    email = request.args.get("e")
    tk, problem = _open_ticket(trackid, email)
    if problem is not None:
        return problem
    resp = _render_ticket(tk)
    if request.args.get("lookup") and email:
        # the look-up form's "Remember my email address": a cookie for a year, or forget it
        if request.args.get("r"):
            resp.set_cookie(EMAIL_COOKIE, email.strip()[:255], max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=current_app.config.get("HESK_SECURE_COOKIES", False))
        elif request.cookies.get(EMAIL_COOKIE):
            resp.delete_cookie(EMAIL_COOKIE)
    return resp


def _thread(tk):
    """Replies with their authors' names as customers see them, and attachments by post (notes and
    their files are never loaded here: they are staff-only)."""
    thread = tk
    replies = list(thread.replies)
    staff_ids = {r.staff_id for r in replies if r.staff_id}
    names = public.staff_names(staff_ids) if staff_ids else {}
    files = {}
    # by ticket only (its index), notes' files left out here: "note_id IS NULL" could lead the database to
    # the note index, which holds every file of every reply
    for att in db.session.scalars(select(Attachment).where(Attachment.ticket_id == thread.id)
                                  .order_by(Attachment.id)):
        if att.note_id is None:
            files.setdefault(att.reply_id, []).append(att)
    if int(settings.get("new_top")):
        replies.reverse()
    return thread, replies, names, files


def _render_ticket(tk, *, reply_form=None, errors=None, status=200, files_dropped=False, token=None):
    thread, replies, names, files = _thread(tk)
    if any(r.author_type == "staff" and not r.read for r in replies):
        tickets.mark_replies_read(thread)
    fields = custom_fields.fields_for(thread.category_id)
    shown = [(lbl, text, kind) for lbl, text, kind in custom_fields.shown_values(thread.custom, fields)
             if kind != "hidden"]
    errors = errors or {}
    if reply_form is None:
        reply_form = ReplyForm(formdata=None, data={"track": thread.trackid})
    for name, message in errors.items():
        if name in reply_form:
            reply_form[name].errors = [message]
    body = render_template(
        "public/ticket.html", ticket=thread, replies=replies, staff_names=names, files=files,
        custom=shown, reply_form=reply_form, action_form=TicketActionForm(formdata=None,
                                                                          data={"track": thread.trackid}),
        reply_problem=public.reply_problem(thread), form_error=errors.get("form"), files_dropped=files_dropped,
        token=token or antispam.issue_token(), limits=attachments.limits(),
        can_resolve=settings.get("custclose") and not thread.status.is_closed,
        can_reopen=settings.get("custopen") and thread.status.is_closed and not thread.locked,
        rating=settings.get("rating"), reply_top=int(settings.get("reply_top")),
        followers=public.shown_followers(thread, session.get(FOLLOWING, {}).get(thread.trackid)),
    )
    return _no_store(make_response(body, status))


def _ticket_for_post():
    """The ticket a POST acts on: the browser must have opened it before (its session remembers)."""
    trackid = tickets.normalize_trackid(request.form.get("track", ""))
    need_account = _tickets_need_account()  # then only the customer's own tickets, asked again each time
    granted = bool(trackid) and not need_account and _has_grant(trackid)
    owned = _own_ticket(trackid) if trackid and not granted else None
    if not trackid or not (granted or owned is not None
                           or (not public.email_required_to_view() and not need_account)):
        return None, redirect(url_for("public.ticket", track=trackid or None))
    try:
        public.check_ip(_client_ip())
        if owned is not None:
            _grant(owned.trackid, _account_follower_id(owned))  # a logged-in follower acts as themselves
            return owned, None
        return tickets.get_ticket(trackid), None
    except public.LookupBlocked as exc:
        return None, _lookup_form(trackid, error=str(exc), status=429)
    except public.Banned as exc:
        return None, (render_template("errors/403.html", code=403, description=str(exc)), 403)
    except TicketNotFound:
        return None, _lookup_form(trackid, status=404, error=_("Ticket not found."))


@bp.post("/ticket/reply")
@csrf.exempt  # checked by the form itself: an expired session must not lose the reply
@limiter.limit("10 per 10 minutes", methods=["POST"])  # HESK: more than 10 replies in 10 minutes is a robot
def ticket_reply():
    form = ReplyForm()
    files = _posted_files()
    try:
        tk, problem = _ticket_for_post()
        if problem is not None:
            return problem
        token = request.form.get(antispam.TOKEN_FIELD)
        if not form.validate():
            return _render_ticket(tk, reply_form=form, status=400, files_dropped=bool(files), token=token, errors={
                "form": _("Your session expired before the reply was sent. Please send it again.")})
        try:
            public.customer_reply(tk, request.form, files, _client_ip(), actor=_actor(tk))
        except antispam.AlreadySubmitted:
            flash(_("This reply was already sent."), "success")
            return redirect(url_for("public.ticket", track=tk.trackid), code=303)
        except public.SubmissionRefused as exc:
            errors = dict(exc.errors)
            if files:
                errors.setdefault("attachments", _("For your security, attached files are not kept: please "
                                                   "choose them again."))
            return _render_ticket(tk, reply_form=form, errors=errors, status=exc.status,
                                  files_dropped=bool(files), token=token if antispam.read_token(token) else None)
    except (OperationalError, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError) and not exc.connection_invalidated:
            raise
        db.session.rollback()
        return _no_store(make_response(render_template(
            "public/ticket_reply_503.html", form=form, kept=request.form,
            files_dropped=bool(files)), 503))
    flash(_("Your reply has been sent."), "success")
    return redirect(url_for("public.ticket", track=tk.trackid), code=303)


@bp.post("/ticket/resolve")
def ticket_resolve():
    tk, problem = _ticket_for_post()
    if problem is not None:
        return problem
    if not settings.get("custclose") or tk.status.is_closed:
        abort(403)
    tickets.customer_resolve(tk, actor=_actor(tk))
    flash(_("Your ticket has been marked resolved."), "success")
    return redirect(url_for("public.ticket", track=tk.trackid), code=303)


@bp.post("/ticket/reopen")
def ticket_reopen():
    tk, problem = _ticket_for_post()
    if problem is not None:
        return problem
    if not settings.get("custopen") or not tk.status.is_closed or tk.locked:
        abort(403)
    tickets.customer_reopen(tk, actor=_actor(tk))
    flash(_("Your ticket has been reopened. Please tell us what you still need in a reply."), "success")
    return redirect(url_for("public.ticket", track=tk.trackid) + "#reply", code=303)


@bp.post("/ticket/rate")
def ticket_rate():
    tk, problem = _ticket_for_post()
    if problem is not None:
        return problem
    if not settings.get("rating"):
        abort(403)
    try:
        reply_id = int(request.form.get("reply_id", ""))
        rating = int(request.form.get("rating", ""))
    except ValueError:
        abort(400)
    reply = db.session.get(Reply, reply_id)
    if reply is None or reply.ticket_id != tk.id or reply.author_type != "staff":
        abort(404)
    try:
        rated = tickets.rate_reply(reply, rating, actor=_actor(tk))
    except InvalidTicketData:
        abort(400)
    flash(_("Thank you for your feedback.") if rated else _("You have already rated this reply."), "success")
    return redirect(url_for("public.ticket", track=tk.trackid) + f"#reply-{reply.id}", code=303)


@bp.get("/ticket/print")
def ticket_print():
    trackid = (request.args.get("track") or "").strip()
    tk, problem = _open_ticket(trackid, request.args.get("e"))
    if problem is not None:
        return problem
    thread, replies, names, files = _thread(tk)
    fields = custom_fields.fields_for(thread.category_id)
    shown = [(lbl, text, kind) for lbl, text, kind in custom_fields.shown_values(thread.custom, fields)
             if kind != "hidden"]
    return _no_store(make_response(render_template(
        "public/ticket_print.html", ticket=thread, replies=replies, staff_names=names, files=files, custom=shown,
        barcode=barcodes.tracking_barcode(thread.trackid))))


@bp.get("/ticket/attachment/<int:att_id>")
@talisman(content_security_policy="default-src 'none'; sandbox")  # nothing in a file may run here
def ticket_attachment(att_id: int):
    att = db.session.get(Attachment, att_id)
    if att is None or att.note_id is not None:
        abort(404)
    # The tracking ID must come with the request (or be remembered by this browser): attachment ids are
    # sequential, so the id alone must never lead to a ticket.
    trackid = (request.args.get("track") or "").strip()
    if not trackid:
        if not _has_grant(att.ticket.trackid):
            abort(404)
        trackid = att.ticket.trackid
    tk, problem = _open_ticket(trackid, request.args.get("e"))
    if problem is not None:
        return problem
    if tk.id != att.ticket_id:
        abort(404)
    try:
        path = attachments.storage().path(att.saved_name)
        resp = send_file(path, mimetype=attachments.download_type(att.content_type), as_attachment=True,
                         download_name=att.real_name, max_age=0, conditional=False, etag=False)
    except FileNotFoundError:
        abort(404)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


# --- forgot tracking ID ----------------------------------------------------------------------------------

@bp.route("/forgot_tracking_id", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_tracking_id():
    form = ForgotTrackingIdForm()
    if request.method == "GET":
        form.open_only.data = "1" if settings.get("open_only") else "0"
        form.email.data = request.args.get("e") or request.cookies.get(EMAIL_COOKIE, "")
    captcha_on = antispam.captcha_required()
    errors = {}
    token = request.form.get(antispam.TOKEN_FIELD) if request.method == "POST" else None
    if form.validate_on_submit():
        email = (form.email.data or "").strip()
        parsed = antispam.read_token(token)
        if not public.valid_email(email):
            errors["email"] = _("Please enter a valid email address.")
        if captcha_on and not antispam.captcha_ok(parsed, form.captcha.data):
            errors["captcha"] = _("The number does not match the image. Please try again.")
            form.captcha.data = ""
        if antispam.honeypot_tripped(request.form):
            abort(403)
        if not errors:
            ip = _client_ip()
            try:
                public.check_ip(ip)
            except public.LookupBlocked as exc:
                return _forgot_page(form, token, {"form": str(exc)}, captcha_on, 429)
            except public.Banned as exc:
                return _forgot_page(form, token, {"form": str(exc)}, captcha_on, 403)
            # every reminder counts toward the brute-force limit (HESK), success or not
            attempts.record_failure(ip)
            public.send_ticket_list(email, open_only=form.open_only.data == "1", language=_language())
            flash(_("If we have tickets for %(email)s, we have just emailed you their tracking IDs. Please "
                    "also check your SPAM folder.", email=email), "success")
            return redirect(url_for("public.ticket"), code=303)
        token = None  # a fresh CAPTCHA after a wrong answer
    elif request.method == "POST":
        errors["form"] = _("Your session expired before the form was sent. Please send it again.")
    return _forgot_page(form, token, errors, captcha_on, 400 if errors else 200)


def _forgot_page(form, token, errors, captcha_on, status):
    for name, message in errors.items():
        if name in form:
            form[name].errors = [message]
    token = token if antispam.read_token(token) else antispam.issue_token()
    return make_response(render_template("public/forgot_tracking_id.html", form=form, token=token,
                                         captcha=captcha_on, form_error=errors.get("form"),
                                         honeypot=antispam.HONEYPOT_VALUES), status)


# --- customer accounts (hesk_py/public/accounts.py decides; imported late: it builds on this module) ---

def _own_ticket(trackid: str):
    from hesk_py.public import accounts

    return accounts.own_ticket(trackid)


def _account_follower_id(ticket) -> int | None:
    from hesk_py.public import accounts

    return accounts.follower_id(ticket)


def _tickets_need_account() -> bool:
    from hesk_py.public import accounts

    return accounts.tickets_need_account()


def _customer_identity() -> dict | None:
    from hesk_py.public import accounts

    return accounts.identity()


def _with_identity(form):
    """The posted ticket form, with the logged-in customer's name and address whatever was posted."""
    locked = _customer_identity()
    if not locked:
        return form
    data = MultiDict(form)
    for key, value in (("name", locked["name"]), ("email", locked["email"]), ("email2", locked["email"])):
        data.setlist(key, [value])
    return data


__all__ = ["bp", "linkify"]
