"""Staff pages of the team and permission groups: blueprint ``team`` at /admin/team.

The list (``can_view_users`` or ``can_man_users``) shows active and deactivated staff with role, open
tickets and second factor. Creating, editing, deactivating and deleting accounts need ``can_man_users``;
permission groups (named sets of categories and features whose members get the union) need
``can_man_permission_groups``. The rules (last administrator, oneself, a manager grants only what they
have) live in hesk_py/services/accounts.py. Every page is a secure area: the password is asked again when
it was typed too long ago.
"""
from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user
from sqlalchemy import select

from admin import security
from admin.forms import ActionForm, PermissionGroupForm, StaffForm
from admin.security import require_feature, require_recent_auth
from hesk_py.extensions import db
from hesk_py.models import Category, Group, User
from hesk_py.services import accounts
from hesk_py.services.permissions import FEATURE_SECTIONS, FEATURES

bp = Blueprint("team", __name__, url_prefix="/team")


def _viewers(view):
    """``can_view_users`` or ``can_man_users``, then the secure-area check."""
    guarded = require_recent_auth(view)

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not (current_user.can("can_view_users") or current_user.can("can_man_users")):
            abort(403)
        return guarded(*args, **kwargs)

    return wrapped


def _managers(view):
    return require_feature("can_man_users")(require_recent_auth(view))


def _group_managers(view):
    return require_feature("can_man_permission_groups")(require_recent_auth(view))


def _me() -> User:
    return current_user._get_current_object()


def _load_user(user_id: int) -> User:
    target = db.session.get(User, user_id)
    if target is None:
        abort(404)
    if not accounts.may_manage(_me(), target):
        abort(403)  # a staff manager cannot touch an administrator's account
    return target


def _apply_errors(form, errors: dict[str, str]) -> None:
    mapping = {"is_admin": "role"}
    for key, message in errors.items():
        field = getattr(form, mapping.get(key, key), None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")


def _ints(values) -> list[int]:
    out = []
    for v in values or []:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return out


def _keep_logged_in() -> None:
    """After one's own password changed (sessions ended), log this browser in again."""
    auth_at = session.get(security.AUTH_AT)
    login_user(_me(), remember=False, fresh=True)
    session[security.AUTH_AT] = auth_at


# --- the options of the grant checkboxes ---------------------------------------------------------------

def _grant_options(form, existing_cats: set[int], existing_feats: set[str], existing_groups: set[int] | None,
                   submitted: bool):
    """Categories, feature sections and groups as (value, label, checked, disabled): what the actor cannot
    grant is shown disabled (and kept as it was)."""
    me = _me()
    allowed_cats, allowed_feats = accounts.grantable(me)
    cats_checked = set(_ints(form.categories.data)) if submitted else existing_cats
    feats_checked = set(form.features.data or []) if submitted else existing_feats
    categories = []
    for c in db.session.scalars(select(Category).order_by(Category.sort_order, Category.id)):
        may = allowed_cats is None or c.id in allowed_cats
        checked = (c.id in cats_checked) if may else (c.id in existing_cats)
        categories.append((str(c.id), c.name, checked, not may))
    sections = []
    for heading, keys in FEATURE_SECTIONS:
        rows = []
        for key in keys:
            may = key in allowed_feats
            checked = (key in feats_checked) if may else (key in existing_feats)
            rows.append((key, FEATURES[key], checked, not may))
        sections.append((heading, rows))
    groups = []
    if existing_groups is not None:
        groups_checked = set(_ints(form.groups.data)) if submitted else existing_groups
        for g in db.session.scalars(select(Group).order_by(Group.name, Group.id)):
            may = me.is_admin or accounts.group_grantable(me, g)
            checked = (g.id in groups_checked) if may else (g.id in existing_groups)
            groups.append((str(g.id), g.name, checked, not may))
    return categories, sections, groups


# --- the team -----------------------------------------------------------------------------------------

@bp.get("/")
@_viewers
def index():
    rows = accounts.team_overview()
    active = [(u, n) for u, n in rows if u.active]
    inactive = [(u, n) for u, n in rows if not u.active]
    return render_template("admin/team/index.html", active=active, inactive=inactive, action=ActionForm(),
                           may_manage=lambda u: accounts.may_manage(_me(), u),
                           can_groups=current_user.can("can_man_permission_groups"))


def _edit(target: User | None):
    submitted = request.method == "POST"
    if not submitted and target is not None:
        form = StaffForm(data={"name": target.name, "email": target.email, "nickname": target.nickname or "",
                               "username": target.username, "role": "admin" if target.is_admin else "staff",
                               "autoassign": target.autoassign, "signature": target.signature or ""})
    else:
        form = StaffForm()
        if not submitted:
            form.autoassign.data = True
    status = 200
    if submitted:
        if form.validate_on_submit():
            me = _me()
            try:
                saved = accounts.save_staff(
                    me, target, name=form.name.data or "", email=form.email.data or "",
                    username=form.username.data or "", nickname=form.nickname.data or "",
                    password=form.password.data or "", confirm=form.confirm.data or "",
                    is_admin=form.role.data == "admin", category_ids=_ints(form.categories.data),
                    features=[str(f) for f in form.features.data or []], group_ids=_ints(form.groups.data),
                    autoassign=form.autoassign.data, signature=form.signature.data or "")
            except accounts.AccountError as exc:
                db.session.rollback()
                _apply_errors(form, exc.errors)
            else:
                if saved.id == me.id and form.password.data:
                    _keep_logged_in()
                flash(_('The account of %(name)s is saved.', name=saved.name), "success")
                return redirect(url_for(".index"), code=303)
        status = 400
    existing_cats = target.own_category_ids if target else set()
    existing_feats = target.own_feature_keys if target else set()
    existing_groups = accounts.user_group_ids(target) if target else set()
    categories, sections, groups = _grant_options(form, existing_cats, existing_feats, existing_groups, submitted)
    return render_template("admin/team/form.html", form=form, target=target, categories=categories,
                           sections=sections, groups=groups,
                           may_be_admin=current_user.is_admin), status


@bp.route("/new", methods=["GET", "POST"])
@_managers
def new():
    return _edit(None)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@_managers
def edit(user_id: int):
    return _edit(_load_user(user_id))


@bp.post("/<int:user_id>/active")
@_managers
def set_active(user_id: int):
    target = _load_user(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    try:
        accounts.change_active(_me(), target, active)
    except accounts.AccountError as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
    else:
        flash(_("%(name)s can log in again.", name=target.name) if active else
              _("%(name)s is deactivated; their sessions have ended.", name=target.name), "success")
    return redirect(url_for(".index"), code=303)


@bp.route("/<int:user_id>/delete", methods=["GET", "POST"])
@_managers
def delete(user_id: int):
    target = _load_user(user_id)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        name = target.name
        try:
            unassigned = accounts.delete_staff(_me(), target)
        except accounts.AccountError as exc:
            db.session.rollback()
            for message in exc.errors.values():
                flash(message, "error")
        else:
            flash(ngettext("The account of %(name)s is deleted; %(n)s open ticket is now unassigned.",
                           "The account of %(name)s is deleted; %(n)s open tickets are now unassigned.",
                           unassigned, name=name, n=unassigned), "success")
        return redirect(url_for(".index"), code=303)
    return render_template("admin/team/delete.html", target=target, form=form,
                           counts=accounts.deletion_counts(target), is_self=target.id == current_user.id)


# --- permission groups --------------------------------------------------------------------------------

def _load_group(group_id: int) -> Group:
    group = db.session.get(Group, group_id)
    if group is None:
        abort(404)
    return group


@bp.get("/groups/")
@_group_managers
def groups():
    return render_template("admin/team/groups.html", rows=accounts.groups_with_counts(), action=ActionForm())


def _edit_group(group: Group | None):
    submitted = request.method == "POST"
    if not submitted and group is not None:
        form = PermissionGroupForm(data={"name": group.name, "description": group.description})
    else:
        form = PermissionGroupForm()
    status = 200
    if submitted:
        if form.validate_on_submit():
            try:
                saved = accounts.save_group(_me(), group, name=form.name.data or "",
                                            description=form.description.data or "",
                                            category_ids=_ints(form.categories.data),
                                            features=[str(f) for f in form.features.data or []])
            except accounts.AccountError as exc:
                db.session.rollback()
                _apply_errors(form, exc.errors)
            else:
                flash(_('Permission group "%(name)s" saved.', name=saved.name), "success")
                return redirect(url_for(".groups"), code=303)
        status = 400
    categories, sections, _groups = _grant_options(
        form, group.category_ids if group else set(), group.feature_keys if group else set(), None, submitted)
    return render_template("admin/team/group_form.html", form=form, group=group, categories=categories,
                           sections=sections), status


@bp.route("/groups/new", methods=["GET", "POST"])
@_group_managers
def new_group():
    return _edit_group(None)


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@_group_managers
def edit_group(group_id: int):
    return _edit_group(_load_group(group_id))


@bp.post("/groups/<int:group_id>/copy")
@_group_managers
def copy_group(group_id: int):
    group = _load_group(group_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        copy = accounts.copy_group(_me(), group)
    except accounts.AccountError as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "error")
        return redirect(url_for(".groups"), code=303)
    flash(_('Permission group "%(name)s" created.', name=copy.name), "success")
    return redirect(url_for(".edit_group", group_id=copy.id), code=303)


@bp.post("/groups/<int:group_id>/delete")
@_group_managers
def delete_group(group_id: int):
    group = _load_group(group_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = group.name
    try:
        accounts.delete_group(group)
    except accounts.GroupInUse as exc:
        db.session.rollback()
        flash(_('"%(name)s" has %(n)s members and cannot be deleted; take them out of the group first.',
                name=name, n=exc.count), "error")
    else:
        flash(_('Permission group "%(name)s" deleted.', name=name), "success")
    return redirect(url_for(".groups"), code=303)
