"""Staff pages of customer accounts (HESK's Team -> Customers, manage_customers.php): blueprint
``customers`` at /admin/customers.

The list (``can_view_customers`` or ``can_man_customers``) searches customers by name or email, filtered by
the state of their account, with accounts waiting for approval first in line. Creating an account (the
customer gets a link to choose a password), editing it, approving or rejecting a registration, sending the
confirmation link again, resetting the second factor and deleting (keeping, anonymizing or deleting the
tickets) need ``can_man_customers``. Every page is a secure area. The tickets a customer page lists are only
those the staff member may see. The rules live in hesk_py/services/customer_accounts.py.
"""
from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from admin.forms import ActionForm, CustomerForm, DeleteCustomerForm
from admin.security import require_feature, require_recent_auth
from hesk_py.extensions import db
from hesk_py.models import Customer, Ticket
from hesk_py.models.customers import (
    ACCOUNT_ACTIVE, ACCOUNT_DISABLED, ACCOUNT_PENDING, ACCOUNT_UNVERIFIED,
)
from hesk_py.services import customer_accounts, tickets
from hesk_py.services.accounts import AccountError
from hesk_py.services.ticket_access import visible_clause

bp = Blueprint("customers", __name__, url_prefix="/customers")

def _status_names() -> dict:
    return {None: _("No account (tickets only)"), ACCOUNT_UNVERIFIED: _("Email not confirmed yet"),
            ACCOUNT_PENDING: _("Waiting for approval"), ACCOUNT_ACTIVE: _("Active"),
            ACCOUNT_DISABLED: _("Deactivated")}


def _viewers(view):
    """``can_view_customers`` or ``can_man_customers``, then the secure-area check."""
    guarded = require_recent_auth(view)

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not (current_user.can("can_view_customers") or current_user.can("can_man_customers")):
            abort(403)
        return guarded(*args, **kwargs)

    return wrapped


def _managers(view):
    return require_feature("can_man_customers")(require_recent_auth(view))


def _load(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None or not customer.email:
        abort(404)
    return customer


def _apply_errors(form, errors: dict[str, str]) -> None:
    for key, message in errors.items():
        field = getattr(form, key, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")


def _to_list():
    return redirect(request.form.get("back") if _local(request.form.get("back")) else url_for(".index"), code=303)


def _local(target: str | None) -> bool:
    from admin.security import safe_next

    return bool(safe_next(target))


# --- the list -------------------------------------------------------------------------------------------

@bp.get("/")
@_viewers
def index():
    status = request.args.get("status", "accounts")
    if status not in customer_accounts.STAFF_FILTERS:
        status = "accounts"
    try:
        page = int(request.args.get("page", 1))
    except ValueError:
        page = 1
    query = (request.args.get("q") or "").strip()[:200]
    result = customer_accounts.list_customers(query=query, status=status, page=page)
    args = {k: v for k, v in {"q": query, "status": status if status != "accounts" else None}.items() if v}
    return render_template("admin/customers/index.html", result=result, status=status, query=query, args=args,
                           status_names=_status_names(), pending=customer_accounts.pending_count(),
                           action=ActionForm(), can_manage=current_user.can("can_man_customers"),
                           mode=customer_accounts.mode(), back=request.full_path.rstrip("?"))


# --- create, view and edit ------------------------------------------------------------------------------

def _status_choices(customer: Customer) -> list[tuple[str, str]]:
    names = _status_names()
    states = [customer.account_status] if customer.account_status not in (ACCOUNT_ACTIVE, ACCOUNT_DISABLED) else []
    states += [ACCOUNT_ACTIVE, ACCOUNT_DISABLED]
    return [(s, names[s]) for s in states]


@bp.route("/new", methods=["GET", "POST"])
@_managers
def new():
    form = CustomerForm()
    del form.status
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                customer = customer_accounts.staff_create(name=form.name.data or "", email=form.email.data or "",
                                                          language=form.language.data or None)
            except AccountError as exc:
                _apply_errors(form, exc.errors)
            else:
                flash(_("The account of %(name)s is created: we emailed %(email)s a link to choose a password.",
                        name=customer.name, email=customer.email), "success")
                return redirect(url_for(".show", customer_id=customer.id), code=303)
        status = 400
    return render_template("admin/customers/new.html", form=form), status


def _visible_tickets(customer: Customer, limit: int = 50) -> list[Ticket]:
    """The customer's latest tickets, those they filed and those they follow (Cc), among those this staff
    member may see."""
    return list(db.session.scalars(
        select(Ticket).where(customer_accounts.tickets_clause(customer),
                             visible_clause(current_user._get_current_object()))
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(limit)))


def _show(customer: Customer, form: CustomerForm | None = None, status: int = 200):
    can_manage = current_user.can("can_man_customers")
    if form is None and can_manage and customer.has_account:
        form = CustomerForm(formdata=None, data={"name": customer.name, "email": customer.email,
                                                 "language": customer.language or "",
                                                 "status": customer.account_status})
    if form is not None:
        form.status.choices = _status_choices(customer)
    return render_template("admin/customers/show.html", customer=customer, form=form, action=ActionForm(),
                           can_manage=can_manage, status_names=_status_names(),
                           tickets=_visible_tickets(customer), counts=customer_accounts.deletion_counts(customer),
                           pending_email=customer_accounts.pending_email(customer)), status


@bp.get("/<int:customer_id>")
@_viewers
def show(customer_id: int):
    return _show(_load(customer_id))


@bp.post("/<int:customer_id>")
@_managers
def update(customer_id: int):
    customer = _load(customer_id)
    if not customer.has_account:
        abort(404)
    form = CustomerForm()
    form.status.choices = _status_choices(customer)
    if form.validate_on_submit():
        try:
            customer_accounts.staff_update(customer, name=form.name.data or "", email=form.email.data or "",
                                           language=form.language.data or None, status=form.status.data or "")
        except AccountError as exc:
            db.session.rollback()
            _apply_errors(form, exc.errors)
        else:
            flash(_("The account of %(name)s is saved.", name=customer.name), "success")
            return redirect(url_for(".show", customer_id=customer.id), code=303)
    return _show(customer, form, 400)


# --- one-click actions ----------------------------------------------------------------------------------

def _action(customer_id: int):
    customer = _load(customer_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return customer


@bp.post("/<int:customer_id>/approve")
@_managers
def approve(customer_id: int):
    customer = _action(customer_id)
    if customer_accounts.approve(customer):
        flash(_("The account of %(name)s is approved; we emailed them.", name=customer.name), "success")
    else:
        flash(_("This account was not waiting for approval."), "warning")
    return _to_list()


@bp.post("/<int:customer_id>/reject")
@_managers
def reject(customer_id: int):
    customer = _action(customer_id)
    if customer_accounts.reject(customer):
        flash(_("The registration of %(email)s is rejected; we emailed them.", email=customer.email), "success")
    else:
        flash(_("This account was not waiting for approval."), "warning")
    return _to_list()


@bp.post("/<int:customer_id>/resend")
@_managers
def resend(customer_id: int):
    customer = _action(customer_id)
    if customer_accounts.staff_resend(customer):
        flash(_("We emailed %(email)s the link again.", email=customer.email), "success")
    else:
        flash(_("This account has nothing to confirm."), "warning")
    return _to_list()


@bp.post("/<int:customer_id>/reset_mfa")
@_managers
def reset_mfa(customer_id: int):
    customer = _action(customer_id)
    if customer.mfa_method:
        customer_accounts.reset_mfa(customer)
        flash(_("Two-factor authentication of %(name)s has been reset; their sessions have ended.",
                name=customer.name), "success")
    return redirect(url_for(".show", customer_id=customer.id), code=303)


@bp.route("/<int:customer_id>/delete", methods=["GET", "POST"])
@_managers
def delete(customer_id: int):
    customer = _load(customer_id)
    form = DeleteCustomerForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        name, mode = customer.name, form.tickets.data
        counts = customer_accounts.deletion_counts(customer)
        files = customer_accounts.delete_customer(customer, tickets_mode=mode,
                                                  actor=tickets.Actor.staff(current_user._get_current_object()))
        _remove_files(files)
        if mode == "keep":
            flash(_("The account of %(name)s is deleted; their tickets are kept.", name=name), "success")
        elif mode == "anonymize":
            flash(ngettext("%(name)s is deleted; %(n)s ticket is anonymized.",
                           "%(name)s is deleted; %(n)s tickets are anonymized.", counts["tickets"], name=name,
                           n=counts["tickets"]), "success")
        else:
            flash(ngettext("%(name)s is deleted, with %(n)s ticket.", "%(name)s is deleted, with %(n)s tickets.",
                           counts["tickets"], name=name, n=counts["tickets"]), "success")
        return redirect(url_for(".index"), code=303)
    return render_template("admin/customers/delete.html", customer=customer, form=form,
                           counts=customer_accounts.deletion_counts(customer))


def _remove_files(saved_names: list[str]) -> None:
    from hesk_py.services import attachments

    box = attachments.storage()
    for name in saved_names:
        box.delete(name)
