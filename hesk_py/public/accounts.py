"""Customer accounts on the customer side (HESK's login.php, register.php, verify_registration.php,
reset_password.php, my_tickets.php, profile.php, manage_mfa.php, elevator.php): blueprint ``account``
inside ``public``, at the root of the help desk (/login, /register, /verify, /reset-password, /my-tickets,
/profile, /mfa, /elevate).

Also the rules every customer page follows while accounts are on (``before_request`` of ``public``):
the logged-in customer is loaded from the session, or from a "remember me" cookie; with accounts required
to submit tickets (``customer_accounts`` = 2) the ticket pages need a login, with accounts required to
access the help desk (3) every page does, except those that let a customer log in or register; with
``require_mfa_customers`` a customer without a second factor sets one up first.

A customer session is a key of the signed session cookie: the account id, its session version (a password
change ends the other sessions), when it was last used (it ends after ``IDLE`` without a page; with
``extend_customer`` an open page keeps it alive) and when the password was typed (secure areas ask again
after ``elevator_duration``). The rules themselves live in hesk_py/services/customer_accounts.py.
"""
from __future__ import annotations

import functools
import time
from datetime import timedelta

from flask import (
    Blueprint, abort, after_this_request, current_app, flash, g, make_response, redirect, render_template,
    request, session, url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.exc import DBAPIError, OperationalError

from hesk_py import settings
from hesk_py.extensions import csrf, db, limiter
from hesk_py.i18n import LANGUAGE_COOKIE, LANGUAGES
from hesk_py.models import Customer
from hesk_py.public import views
from hesk_py.public.forms import (
    ConfirmRegistrationForm, CustomerActionForm, CustomerCodeForm, CustomerLoginForm, CustomerPasswordCheckForm,
    CustomerPasswordForm, CustomerProfileForm, EmailChangeForm, EmailOnlyForm, NewPasswordForm, RegisterForm,
)
from hesk_py.services import accounts, antispam, attempts, customer_accounts, service_messages
from hesk_py.services import mfa as mfa_rules
from hesk_py.services.accounts import CUSTOMER_REMEMBER, AccountError
from hesk_py.models.customers import TOKEN_EMAIL, TOKEN_INVITE, TOKEN_RESET, TOKEN_VERIFY
from hesk_py.web_security import STAFF_LOGIN_KEYS, restart_session, safe_next

bp = Blueprint("account", __name__)

SESSION_KEY = "hesk_customer"  # {"id", "sv" (session version), "seen", "auth" (password typed), epoch s}
MFA_PENDING = "hesk_customer_mfa"  # password accepted, second factor not yet
MFA_SETUP = "hesk_customer_mfa_setup"
REMEMBER_COOKIE = "hesk_customer_remember"  # HESK's names
EMAIL_COOKIE = "hesk_customer_username"
IDLE = timedelta(minutes=30)
KEEPALIVE_SECONDS = 300  # HESK's extend_session.php reloads every 5 minutes
MFA_PENDING_MAX_AGE = 600
SETUP_MAX_AGE = 1800
_SEEN_EVERY = 60  # write "seen" back into the cookie at most once a minute

# What a visitor may open without logging in when the whole help desk needs an account (mode 3).
OPEN_ENDPOINTS = {
    "public.account.login", "public.account.login_verify", "public.account.login_resend_code",
    "public.account.logout", "public.account.register", "public.account.verify", "public.account.verify_token",
    "public.account.forgot_password", "public.account.reset_password", "public.account.keepalive",
    "public.captcha", "public.language",
}
# What needs an account when tickets do (mode 2).
TICKET_ENDPOINTS = {
    "public.submit_ticket", "public.submit_ticket_done", "public.ticket", "public.ticket_reply",
    "public.ticket_resolve", "public.ticket_reopen", "public.ticket_rate", "public.ticket_print",
    "public.ticket_attachment", "public.forgot_tracking_id",
}
# What a logged-in customer may still open while require_mfa_customers makes them set up a second factor.
ENROLMENT_ENDPOINTS = {
    "public.account.mfa", "public.account.mfa_app_start", "public.account.mfa_app",
    "public.account.mfa_email_start", "public.account.mfa_email", "public.account.elevate",
    "public.account.logout", "public.account.keepalive", "public.language", "public.captcha",
}


def _ip() -> str:
    return request.remote_addr or ""


def _secure() -> bool:
    return bool(current_app.config.get("HESK_SECURE_COOKIES"))


def _now() -> int:
    return int(time.time())


def current_customer() -> Customer | None:
    """The logged-in customer of this request (None: nobody, or accounts are off)."""
    return g.get("hesk_customer")


def _login_url(next_url: str | None = None) -> str:
    return url_for("public.account.login", next=next_url) if next_url else url_for("public.account.login")


def _here() -> str:
    path = request.script_root + request.full_path
    return path[:-1] if path.endswith("?") else path




# --- every customer page: who is logged in, and the gates ---------------------------------------------

@views.bp.before_request
def _load_customer():
    g.hesk_customer = None
    if not current_app.config.get("HESK_INSTALLED"):
        return None
    try:
        if not customer_accounts.enabled():
            return None
        customer = _from_session()
        if customer is None and request.cookies.get(REMEMBER_COOKIE):
            customer = _from_cookie()
    except (OperationalError, DBAPIError):
        db.session.rollback()  # the database is down: the view answers that itself
        return None
    g.hesk_customer = customer
    return _gate(customer)


def _from_session() -> Customer | None:
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = _now()
    seen = data.get("seen")
    if not isinstance(seen, int) or now - seen > IDLE.total_seconds():
        session.pop(SESSION_KEY, None)
        return None
    customer = customer_accounts.session_customer(data.get("id"), data.get("sv"))
    if customer is None:
        session.pop(SESSION_KEY, None)
        return None
    if now - seen >= _SEEN_EVERY or request.endpoint == "public.account.keepalive":
        session[SESSION_KEY] = {**data, "seen": now}
    return customer


def _from_cookie() -> Customer | None:
    if not settings.get("customer_autologin"):
        after_this_request(_forget_remember_cookie)
        return None
    customer, new_value = accounts.use_remember_token(request.cookies.get(REMEMBER_COOKIE), store=CUSTOMER_REMEMBER)
    if customer is None:
        after_this_request(_forget_remember_cookie)
        return None
    _start_session(customer, password_typed=False)
    if new_value:
        after_this_request(lambda response: _set_remember_cookie(response, new_value))
    return customer


def _gate(customer: Customer | None):
    endpoint = request.endpoint or ""
    if customer is not None:
        if (endpoint not in ENROLMENT_ENDPOINTS and not customer.mfa_method and mfa_rules.is_required(customer)
                and endpoint.startswith("public.")):
            flash(_("This help desk requires two-factor authentication. Set it up to continue."), "warning")
            return redirect(url_for("public.account.mfa"))
        return None
    if endpoint in OPEN_ENDPOINTS or endpoint == "static":
        return None
    everything = customer_accounts.required_for_everything()
    if everything or (customer_accounts.required_for_tickets() and endpoint in TICKET_ENDPOINTS):
        if request.method == "GET":
            if endpoint in TICKET_ENDPOINTS or everything:
                flash(_("Please log in to continue. No account yet? Register first.") if
                      customer_accounts.self_registration() else _("Please log in to continue."), "warning")
            return redirect(_login_url(_here()))
        # a form sent without an account (a script, an old page): HESK's answer
        return render_template("errors/generic.html", code=403, description=_(
            "You need an account to submit a ticket: please log in, or register if you do not have one yet.")), 403
    return None


@views.bp.app_context_processor
def _account_context():
    def account_links() -> dict | None:
        """What the page header offers about accounts (nothing while they are off)."""
        if not current_app.config.get("HESK_INSTALLED"):
            return None
        try:
            if not customer_accounts.enabled():
                return None
            return {"register": customer_accounts.self_registration(),
                    "keepalive": bool(settings.get("extend_customer")) and current_customer() is not None,
                    "logout_form": CustomerActionForm()}
        except Exception:  # noqa: BLE001  (error pages render without the database)
            return None

    return {"current_customer": current_customer(), "account_links": account_links}


@bp.before_request
def _require_accounts():
    if not customer_accounts.enabled():
        abort(404)


def _set_remember_cookie(response, value: str):
    response.set_cookie(REMEMBER_COOKIE, value, max_age=int(timedelta(days=accounts.REMEMBER_DAYS).total_seconds()),
                        httponly=True, samesite="Lax", secure=_secure())
    return response


def _forget_remember_cookie(response):
    response.delete_cookie(REMEMBER_COOKIE)
    return response


def _start_session(customer: Customer, *, password_typed: bool) -> None:
    restart_session(keep=STAFF_LOGIN_KEYS)  # a new session at login (no fixation); a staff login stays
    now = _now()
    session[SESSION_KEY] = {"id": customer.id, "sv": customer.session_version, "seen": now,
                            "auth": now if password_typed else 0}


def _keep_logged_in(customer: Customer) -> None:
    """After the session version moved on (other sessions ended), this browser stays logged in."""
    data = dict(session.get(SESSION_KEY) or {})
    data.update(id=customer.id, sv=customer.session_version, seen=_now())
    session[SESSION_KEY] = data


def _mark_password_typed() -> None:
    data = dict(session.get(SESSION_KEY) or {})
    data["auth"] = _now()
    session[SESSION_KEY] = data


def _recently_authenticated() -> bool:
    at = (session.get(SESSION_KEY) or {}).get("auth")
    return isinstance(at, int) and at > 0 and _now() - at < accounts.elevation_duration().total_seconds()


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_customer() is None:
            return redirect(_login_url(_here() if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped


def secure_area(view):
    """Logged in, and the password typed within ``elevator_duration`` (else /elevate asks for it)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not _recently_authenticated():
            target = _here() if request.method == "GET" else url_for("public.account.mfa")
            return redirect(url_for("public.account.elevate", next=target))
        return view(*args, **kwargs)

    return login_required(wrapped)


def _me() -> Customer:
    return current_customer()


def _messages():
    return service_messages.for_page(views._language())


def _page(template: str, status: int = 200, **context):
    resp = make_response(render_template(f"public/account/{template}", service_messages=_messages(), **context),
                         status)
    return views._no_store(resp)


def _too_many(minutes: int) -> str:
    return ngettext("Too many failed attempts. Try again in %(n)s minute.",
                    "Too many failed attempts. Try again in %(n)s minutes.", minutes, n=minutes)


def _put_errors(form, errors: dict[str, str], mapping: dict[str, str] | None = None) -> str | None:
    """Each message beside its field; returns what belongs to no field (shown on top of the form)."""
    rest = []
    for key, message in errors.items():
        field = getattr(form, (mapping or {}).get(key, key), None)
        if field is not None and key != "csrf_token":
            field.errors = [*field.errors, message]
        else:
            rest.append(message)
    return " ".join(rest) or None


# --- log in, the second factor, log out -----------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token: an expired session brings the form back, not an error page
def login():
    next_url = safe_next(request.args.get("next"))
    if current_customer() is not None:
        return redirect(next_url or url_for(".my_tickets"))
    autologin = bool(settings.get("customer_autologin"))
    form = CustomerLoginForm()
    if request.method == "GET":
        form.email.data = request.cookies.get(EMAIL_COOKIE, "")
        form.remember.data = bool(form.email.data) and not autologin
    error, status, unverified = None, 200, False
    if form.validate_on_submit():
        email = (form.email.data or "").strip()
        ip, key = _ip(), accounts.throttle_key("clogin", email)
        blocked = max(attempts.minutes_left(ip), attempts.minutes_left(key))
        if blocked:
            error, status = _too_many(blocked), 429
        else:
            result = customer_accounts.authenticate(email, form.password.data or "")
            if result.state == customer_accounts.LOGIN_WRONG:
                attempts.record_failure(ip)
                attempts.record_failure(key)
                # the same words whether the address has an account or not
                error, status = _("Wrong email address or password."), 401
            else:
                attempts.clear(ip)
                attempts.clear(key)
                if result.state == customer_accounts.LOGIN_OK:
                    return _password_accepted(result.customer, remember=bool(form.remember.data),
                                              next_url=next_url)
                status = 403
                if result.state == customer_accounts.LOGIN_UNVERIFIED:
                    unverified = True
                    error = _("Your email address is not confirmed yet: open the link we emailed you. No email? "
                              "We can send it again.")
                elif result.state == customer_accounts.LOGIN_PENDING:
                    error = _("Your account is waiting for approval by our staff. We will email you once it is "
                              "approved.")
                else:
                    error = _("This account has been deactivated. Please contact us if you think this is a "
                              "mistake.")
    elif request.method == "POST":
        error, status = _("Your session expired or the form was incomplete. Please log in again."), 400
    form.password.data = ""
    return _page("login.html", status, form=form, error=error, autologin=autologin, unverified=unverified,
                 resend_form=EmailOnlyForm(formdata=None, data={"email": form.email.data}),
                 register=customer_accounts.self_registration(), next_url=next_url,
                 reset_pass=bool(settings.get("reset_pass")))


def _password_accepted(customer: Customer, *, remember: bool, next_url: str | None):
    if not customer.mfa_method:
        return _finish_login(customer, remember=remember, next_url=next_url)
    # half logged in: this session knows who typed the right password, nothing more (a staff login stays)
    restart_session(keep=STAFF_LOGIN_KEYS)
    session[MFA_PENDING] = {"id": customer.id, "sv": customer.session_version, "at": _now(),
                            "remember": bool(remember), "next": next_url}
    if customer.mfa_method == mfa_rules.METHOD_EMAIL:
        mfa_rules.send_email_code(customer)
    return redirect(url_for(".login_verify"))


def _finish_login(customer: Customer, *, remember: bool, next_url: str | None):
    _start_session(customer, password_typed=True)
    customer_accounts.logged_in(customer)
    response = redirect(next_url or url_for(".my_tickets"))
    if settings.get("customer_autologin"):
        if remember:
            _set_remember_cookie(response, accounts.issue_remember_token(customer))
    elif remember:  # without automatic login HESK remembers only the address
        response.set_cookie(EMAIL_COOKIE, customer.email, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=_secure())
    else:
        response.delete_cookie(EMAIL_COOKIE)
    if customer.language and customer.language in LANGUAGES and settings.get("can_sel_lang"):
        response.set_cookie(LANGUAGE_COOKIE, customer.language, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=_secure())
    return response


def _pending() -> Customer | None:
    data = session.get(MFA_PENDING)
    if not isinstance(data, dict) or not isinstance(data.get("at"), int):
        return None
    if _now() - data["at"] > MFA_PENDING_MAX_AGE:
        return None
    customer = customer_accounts.session_customer(data.get("id"), data.get("sv"))
    return customer if customer is not None and customer.mfa_method else None


def _restart_login(message: str):
    session.pop(MFA_PENDING, None)
    flash(message, "error")
    return redirect(url_for(".login"))


@bp.route("/login/verify", methods=["GET", "POST"])
def login_verify():
    if current_customer() is not None:
        return redirect(url_for(".my_tickets"))
    customer = _pending()
    if customer is None:
        return _restart_login(_("Your sign-in has expired. Log in again."))
    form = CustomerCodeForm()
    status = 200
    if form.validate_on_submit():
        ip, key = _ip(), f"cmfa:{customer.id}"
        blocked = max(attempts.minutes_left(ip), attempts.minutes_left(key))
        if blocked:
            return _restart_login(_too_many(blocked))
        if mfa_rules.verify(customer, form.code.data or ""):
            attempts.clear(ip)
            attempts.clear(key)
            pending = session.get(MFA_PENDING) or {}
            return _finish_login(customer, remember=bool(pending.get("remember")),
                                 next_url=safe_next(pending.get("next")))
        attempts.record_failure(ip)
        attempts.record_failure(key)
        form.code.errors = [_("This code is not valid. Check it and try again.")]
        status = 401
    elif request.method == "POST":
        status = 400
    return _page("login_verify.html", status, form=form, method=customer.mfa_method,
                 resend_form=CustomerActionForm())


@bp.post("/login/verify/resend")
def login_resend_code():
    customer = _pending()
    if customer is None:
        return _restart_login(_("Your sign-in has expired. Log in again."))
    if CustomerActionForm().validate_on_submit() and customer.mfa_method == mfa_rules.METHOD_EMAIL:
        if mfa_rules.send_email_code(customer):
            flash(_("We sent you a new code."), "success")
        else:
            flash(_("A code was sent moments ago. Wait a little before asking for another."), "warning")
    return redirect(url_for(".login_verify"))


@bp.post("/logout")
def logout():
    response = redirect(url_for("public.index"))
    if CustomerActionForm().validate_on_submit():
        accounts.revoke_remember_token(request.cookies.get(REMEMBER_COOKIE), store=CUSTOMER_REMEMBER)
        restart_session(keep=STAFF_LOGIN_KEYS)  # this login ends, a staff login in this browser stays
        _forget_remember_cookie(response)
        flash(_("You have been logged out."), "success")
    return response


@bp.get("/keepalive")
def keepalive():
    """HESK's extend_session.php: a hidden frame of every page reloads this every few minutes, so a
    customer who keeps a page open stays logged in (``extend_customer``)."""
    if not settings.get("extend_customer") or current_customer() is None:
        abort(404)
    resp = make_response(render_template("public/account/keepalive.html", seconds=KEEPALIVE_SECONDS))
    return views._no_store(resp)


# --- register, confirm the address ------------------------------------------------------------------------

def _antispam_errors(form, data) -> tuple[object, dict[str, str]]:
    token, errors = antispam.check_form(data, captcha=antispam.captcha_required(),
                                        question=antispam.question_required())
    if "captcha" in errors:
        form.captcha.data = ""
    return token, errors


def _spam_page(template: str, form, status: int, *, token=None, errors=None, **context):
    errors = dict(errors or {})
    form_error = _put_errors(form, {k: v for k, v in errors.items() if k != "form"})
    form_error = " ".join(m for m in (errors.get("form"), form_error) if m) or None
    token = token if isinstance(token, str) and antispam.read_token(token) and "captcha" not in errors \
        else antispam.issue_token()
    return _page(template, status, form=form, form_error=form_error, token=token,
                 captcha=antispam.captcha_required(), question=antispam.question_required(),
                 question_html=antispam.question_html() if antispam.question_required() else "",
                 honeypot=antispam.HONEYPOT_VALUES, **context)


def _posted_email(template: str, form, **context):
    """A posted address form (send the link again, forgotten password): its CSRF token, the anti-spam checks
    and a valid address. Returns (the address, None), or (None, the form again with what is wrong)."""
    posted = request.form.get(antispam.TOKEN_FIELD)
    if not form.validate():
        return None, _spam_page(template, form, 400, token=posted, errors={"form": _(
            "Your session expired before the form was sent. Please send it again.")}, **context)
    try:
        _token, errors = antispam.check_form(request.form, captcha=antispam.captcha_required(), question=False)
    except antispam.SpamBlocked:
        abort(403)
    email = (form.email.data or "").strip()
    if not customer_accounts.valid_email(email.lower()):
        errors["email"] = _("Please enter a valid email address.")
    if errors:
        return None, _spam_page(template, form, 400, token=posted, errors=errors, **context)
    return email, None


@bp.route("/register", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token (see login)
@limiter.limit("20 per hour", methods=["POST"])
def register():
    if not customer_accounts.self_registration():
        return _page("register_closed.html", 404)
    if current_customer() is not None:
        return redirect(url_for(".my_tickets"))
    form = RegisterForm()
    posted = request.form.get(antispam.TOKEN_FIELD)
    if request.method == "GET":
        return _spam_page("register.html", form, 200)
    if not form.validate():  # the CSRF token
        return _spam_page("register.html", form, 400, token=posted, errors={"form": _(
            "Your session expired before the form was sent. Please check it and send it again.")})
    try:
        token, errors = _antispam_errors(form, request.form)
    except antispam.SpamBlocked:
        abort(403)
    errors.update(customer_accounts.registration_problems(
        name=form.name.data, email=form.email.data, password=form.password.data, confirm=form.confirm.data))
    if errors:
        return _spam_page("register.html", form, 400, token=posted, errors=errors)
    try:
        antispam.spend_nonce(token.nonce)
        customer_accounts.register(name=form.name.data, email=form.email.data, password=form.password.data,
                                   confirm=form.confirm.data, language=views._language(), ip=_ip())
    except antispam.AlreadySubmitted:
        pass  # sent twice (a double click): the same answer
    except AccountError as exc:
        db.session.rollback()
        return _spam_page("register.html", form, 400, token=posted, errors=exc.errors)
    return _page("register_done.html", email=(form.email.data or "").strip(),
                 approval=customer_accounts.needs_approval())


@bp.route("/verify", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token (see login)
@limiter.limit("10 per hour", methods=["POST"])
def verify():
    """Send the confirmation link again (HESK's "Re-send verification email"), at most once per cooldown."""
    form = EmailOnlyForm()
    if request.method == "GET":
        form.email.data = request.args.get("email", "")[:255]
        return _spam_page("resend.html", form, 200)
    email, problem = _posted_email("resend.html", form)
    if problem is not None:
        return problem
    customer_accounts.resend_verification(email, _ip())
    minutes = int(settings.get("customer_accounts_verify_email_cooldown"))
    flash(_("If %(email)s has an account waiting for confirmation, we have emailed it the link again. Please "
            "also check your SPAM folder.", email=email) + " " + (ngettext(
            "You can ask again after %(n)s minute.", "You can ask again after %(n)s minutes.", minutes, n=minutes)
            if minutes else ""), "success")
    return redirect(url_for(".login"), code=303)


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify_token(token: str):
    """The link of a registration (confirm with the password chosen) or of a new address (confirm it)."""
    row = customer_accounts.find_token(token, TOKEN_VERIFY, TOKEN_EMAIL)
    if row is None:
        return _page("link_gone.html", 404)
    if row.purpose == TOKEN_EMAIL:
        form = CustomerActionForm()
        if form.validate_on_submit():
            try:
                customer = customer_accounts.confirm_email_change(token)
            except AccountError as exc:
                return _page("link_gone.html", 409, message=exc.errors.get("token"))
            flash(_("Your email address is now %(email)s.", email=customer.email), "success")
            if current_customer() is not None and current_customer().id == customer.id:
                return redirect(url_for(".profile"), code=303)
            return redirect(url_for(".login"), code=303)
        return _page("verify_email.html", 400 if request.method == "POST" else 200, form=form,
                     new_email=row.new_email)
    form = ConfirmRegistrationForm()
    status = 200
    if form.validate_on_submit():
        ip = _ip()
        if attempts.minutes_left(ip):
            return _page("verify.html", 429, form=form, form_error=_too_many(attempts.minutes_left(ip)))
        try:
            customer = customer_accounts.confirm_registration(token, form.password.data or "")
        except AccountError as exc:
            if "token" in exc.errors:
                return _page("link_gone.html", 404)
            attempts.record_failure(ip)
            form.password.errors = [exc.errors["password"]]
            status = 401
        else:
            attempts.clear(ip)
            if customer.is_active:
                response = _finish_login(customer, remember=False, next_url=None)  # a new session: then the flash
                flash(_("Thank you: your email address is confirmed and you are logged in."), "success")
                return response
            return _page("register_done.html", email=customer.email, approval=True, confirmed=True)
    elif request.method == "POST":
        status = 400
    return _page("verify.html", status, form=form)


# --- forgotten password ---------------------------------------------------------------------------------

@bp.route("/reset-password", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token (see login)
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    if not settings.get("reset_pass"):
        abort(404)
    form = EmailOnlyForm()
    if request.method == "GET":
        return _spam_page("forgot_password.html", form, 200, sent=False)
    email, problem = _posted_email("forgot_password.html", form, sent=False)
    if problem is not None:
        return problem
    key = f"creset:{_ip()}"
    blocked = attempts.minutes_left(key)
    if blocked:
        return _spam_page("forgot_password.html", form, 429, sent=False, errors={"form": ngettext(
            "Too many requests. Try again in %(n)s minute.", "Too many requests. Try again in %(n)s minutes.",
            blocked, n=blocked)})
    attempts.record_failure(key)  # every request counts: one address cannot send a flood of mail
    customer_accounts.request_password_reset(email, _ip())
    # the same page whether or not the address has an account
    return _spam_page("forgot_password.html", EmailOnlyForm(formdata=None), 200, sent=True, email=email)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password (a reset link), or the first one (an account staff created)."""
    row = customer_accounts.find_token(token, TOKEN_RESET, TOKEN_INVITE)
    if row is None:
        return _page("link_gone.html", 404)
    form = NewPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            customer = customer_accounts.set_password(token, new=form.password.data or "",
                                                      confirm=form.confirm.data or "")
        except AccountError as exc:
            if "token" in exc.errors:
                return _page("link_gone.html", 404)
            _put_errors(form, exc.errors)
            status = 400
        else:
            # a reset is not a login: log in with the new password (and the second factor)
            restart_session(keep=STAFF_LOGIN_KEYS)
            if customer.is_active:
                flash(_("Your password has been set. Log in with it now."), "success")
            else:
                flash(_("Your password has been set. Your account is waiting for approval by our staff."),
                      "success")
            return redirect(url_for(".login"), code=303)
    elif request.method == "POST":
        status = 400
    return _page("reset_password.html", status, form=form, first=row.purpose == TOKEN_INVITE)


# --- my tickets -------------------------------------------------------------------------------------------

@bp.get("/my-tickets")
@login_required
def my_tickets():
    args = request.args
    status = args.get("status") if args.get("status") in customer_accounts.LIST_FILTERS else "all"
    try:
        page = int(args.get("page", 1))
    except ValueError:
        page = 1
    query = (args.get("q") or "").strip()[:200]
    result = customer_accounts.my_tickets(_me(), query=query, status=status, sort=args.get("sort", "lastchange"),
                                          desc=args.get("dir") != "asc", page=page)
    base = {k: v for k, v in {"q": query, "status": status if status != "all" else None}.items() if v}
    sort_args = dict(base, sort=result.sort, dir=None if result.desc else "asc")
    return _page("my_tickets.html", result=result, columns=customer_accounts.list_columns(),
                 column_labels=dict(settings.TICKET_LIST_COLUMNS), query=query, status_filter=status,
                 base_args=base,
                 page_args={k: v for k, v in sort_args.items() if v},
                 show_nicknames=bool(settings.get("staff_nicknames")))


# --- the profile ----------------------------------------------------------------------------------------

def _language_choices():
    return [("", _("The help desk's language"))] + list(LANGUAGES.items())


def _profile_page(status: int = 200, **forms):
    me = _me()
    profile_form = forms.get("profile_form") or CustomerProfileForm(formdata=None, data={
        "name": me.name, "language": me.language or ""})
    profile_form.language.choices = _language_choices()
    return _page("profile.html", status, profile_form=profile_form,
                 password_form=forms.get("password_form") or CustomerPasswordForm(formdata=None),
                 email_form=forms.get("email_form") or EmailChangeForm(formdata=None),
                 action_form=CustomerActionForm(formdata=None), email_changes=customer_accounts.email_changes_allowed(),
                 pending_email=customer_accounts.pending_email(me), can_sel_lang=bool(settings.get("can_sel_lang")),
                 mfa_method=me.mfa_method, mfa_required=mfa_rules.is_required(me))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    if request.method == "GET":
        return _profile_page()
    form = CustomerProfileForm()
    form.language.choices = _language_choices()
    if form.validate_on_submit():
        language = form.language.data if settings.get("can_sel_lang") else _me().language
        try:
            customer_accounts.update_profile(_me(), name=form.name.data, language=language)
        except AccountError as exc:
            _put_errors(form, exc.errors)
        else:
            flash(_("Your profile has been saved."), "success")
            resp = redirect(url_for(".profile"), code=303)
            if language and settings.get("can_sel_lang"):
                resp.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, httponly=True,
                                samesite="Lax", secure=_secure())
            return resp
    return _profile_page(400, profile_form=form)


@bp.post("/profile/password")
@login_required
def profile_password():
    form = CustomerPasswordForm()
    if form.validate_on_submit():
        try:
            customer_accounts.change_password(_me(), current=form.current.data or "", new=form.password.data or "",
                                              confirm=form.confirm.data or "")
        except AccountError as exc:
            _put_errors(form, exc.errors)
        else:
            _keep_logged_in(_me())
            _mark_password_typed()
            flash(_("Your password has been changed. Your other sessions have been logged out."), "success")
            return _forget_remember_cookie(redirect(url_for(".profile"), code=303))
    return _profile_page(400, password_form=form)


@bp.post("/profile/email")
@login_required
def profile_email():
    if not customer_accounts.email_changes_allowed():
        abort(403)
    form = EmailChangeForm()
    if form.validate_on_submit():
        ip, key = _ip(), f"cemail:{_me().id}"
        blocked = max(attempts.minutes_left(ip), attempts.minutes_left(key))
        if blocked:
            form.current_password.errors = [_too_many(blocked)]
            return _profile_page(429, email_form=form)
        try:
            sent_to = customer_accounts.request_email_change(_me(), new_email=form.new_email.data or "",
                                                             current_password=form.current_password.data or "",
                                                             ip=ip)
        except AccountError as exc:
            if "current_password" in exc.errors:
                attempts.record_failure(ip)
                attempts.record_failure(key)
            _put_errors(form, exc.errors)
        else:
            flash(_("We have emailed a link to %(email)s: open it to confirm your new address. Until then your "
                    "account keeps the old one.", email=sent_to), "success")
            return redirect(url_for(".profile"), code=303)
    return _profile_page(400, email_form=form)


@bp.post("/profile/sessions")
@login_required
def profile_sessions():
    if CustomerActionForm().validate_on_submit():
        accounts.end_sessions(_me())
        _keep_logged_in(_me())
        flash(_("Your other sessions have been logged out."), "success")
    return _forget_remember_cookie(redirect(url_for(".profile"), code=303))


# --- re-authentication before secure areas ----------------------------------------------------------------

@bp.route("/elevate", methods=["GET", "POST"])
@login_required
def elevate():
    next_url = safe_next(request.args.get("next")) or url_for(".profile")
    form = CustomerPasswordCheckForm()
    status = 200
    if form.validate_on_submit():
        ip, key = _ip(), f"celev:{_me().id}"
        blocked = max(attempts.minutes_left(ip), attempts.minutes_left(key))
        if blocked:
            # HESK logs out a customer who keeps typing wrong passwords
            accounts.revoke_remember_token(request.cookies.get(REMEMBER_COOKIE), store=CUSTOMER_REMEMBER)
            restart_session(keep=STAFF_LOGIN_KEYS)
            flash(_too_many(blocked), "error")
            return _forget_remember_cookie(redirect(url_for(".login")))
        if customer_accounts.check_password(_me(), form.password.data or ""):
            attempts.clear(key)
            _mark_password_typed()
            return redirect(next_url, code=303)
        attempts.record_failure(ip)
        attempts.record_failure(key)
        form.password.errors = [_("Wrong password.")]
        status = 401
    elif request.method == "POST":
        status = 400
    return _page("elevate.html", status, form=form)


# --- two-factor authentication (HESK's manage_mfa.php for customers) -------------------------------------

def _setup(method: str) -> dict | None:
    data = session.get(MFA_SETUP)
    if not isinstance(data, dict) or data.get("method") != method or data.get("id") != _me().id:
        return None
    if not isinstance(data.get("at"), int) or _now() - data["at"] > SETUP_MAX_AGE:
        return None
    return data


def _codes_page(codes: list[str], message: str):
    # in the answer to the POST itself: the codes are never stored in clear, not even in the session
    return _page("mfa_backup_codes.html", codes=codes, message=message)


@bp.get("/mfa")
@secure_area
def mfa():
    me = _me()
    return _page("mfa.html", method=me.mfa_method, required=mfa_rules.is_required(me),
                 backup_codes_left=mfa_rules.backup_codes_left(me) if me.mfa_method else 0,
                 form=CustomerActionForm())


@bp.post("/mfa/app/start")
@secure_area
def mfa_app_start():
    if CustomerActionForm().validate_on_submit():
        session[MFA_SETUP] = {"method": mfa_rules.METHOD_TOTP, "id": _me().id, "secret": mfa_rules.new_totp_secret(),
                              "at": _now()}
    return redirect(url_for(".mfa_app"))


@bp.route("/mfa/app", methods=["GET", "POST"])
@secure_area
def mfa_app():
    setup = _setup(mfa_rules.METHOD_TOTP)
    if setup is None:
        return redirect(url_for(".mfa"))
    form = CustomerCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa_rules.enable_totp(_me(), setup["secret"], form.code.data or "")
        except mfa_rules.MfaError:
            form.code.errors = [_("This code is not valid. Check the time on your phone and try again.")]
            status = 400
        else:
            session.pop(MFA_SETUP, None)  # the secret is never shown again
            _keep_logged_in(_me())
            return _codes_page(codes, _("Your authenticator app is set up."))
    uri = mfa_rules.provisioning_uri(_me(), setup["secret"])
    return _page("mfa_app.html", status, form=form, secret=mfa_rules.format_secret(setup["secret"]),
                 qr_code=mfa_rules.qr_code_svg(uri, _("QR code for your authenticator app")))


@bp.post("/mfa/email/start")
@secure_area
def mfa_email_start():
    if CustomerActionForm().validate_on_submit():
        session[MFA_SETUP] = {"method": mfa_rules.METHOD_EMAIL, "id": _me().id, "at": _now()}
        if not mfa_rules.send_email_code(_me()):
            flash(_("A code was sent moments ago. Wait a little before asking for another."), "warning")
    return redirect(url_for(".mfa_email"))


@bp.route("/mfa/email", methods=["GET", "POST"])
@secure_area
def mfa_email():
    if _setup(mfa_rules.METHOD_EMAIL) is None:
        return redirect(url_for(".mfa"))
    form = CustomerCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa_rules.enable_email(_me(), form.code.data or "")
        except mfa_rules.MfaError:
            form.code.errors = [_("This code is not valid or has expired.")]
            status = 400
        else:
            session.pop(MFA_SETUP, None)
            _keep_logged_in(_me())
            return _codes_page(codes, _("Codes by email are set up."))
    return _page("mfa_email.html", status, form=form, email=_me().email, resend_form=CustomerActionForm())


@bp.post("/mfa/backup-codes")
@secure_area
def mfa_backup_codes():
    if not _me().mfa_method or not CustomerActionForm().validate_on_submit():
        return redirect(url_for(".mfa"))
    return _codes_page(mfa_rules.regenerate_backup_codes(_me()), _("New backup codes: the old ones no longer work."))


@bp.post("/mfa/disable")
@secure_area
def mfa_disable():
    if CustomerActionForm().validate_on_submit() and _me().mfa_method:
        if mfa_rules.is_required(_me()):
            flash(_("This help desk requires two-factor authentication: it cannot be turned off."), "error")
        else:
            mfa_rules.disable(_me())
            _keep_logged_in(_me())
            flash(_("Two-factor authentication is off."), "success")
    return redirect(url_for(".mfa"))


# --- what the ticket pages ask (hesk_py/public/views.py) --------------------------------------------------

def own_ticket(trackid: str):
    """The logged-in customer's ticket with this tracking ID (one they filed or follow), or None."""
    return customer_accounts.own_ticket(current_customer(), trackid)


def follower_id(ticket) -> int | None:
    """Of a ticket ``own_ticket`` found: the logged-in customer's id when they follow it rather than filed it
    (what they do there is then theirs, as a follower's), else None."""
    customer = current_customer()
    return customer.id if customer is not None and ticket.customer_id != customer.id else None


def tickets_need_account() -> bool:
    """Accounts required for tickets: a customer sees only their own, whatever email is typed."""
    return customer_accounts.required_for_tickets()


def identity() -> dict | None:
    """The logged-in customer's name and email: the ticket form is filled in with them and keeps them."""
    customer = current_customer()
    if customer is None:
        return None
    return {"name": customer.name, "email": customer.email}


views.bp.register_blueprint(bp)
