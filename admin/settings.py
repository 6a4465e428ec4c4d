"""The settings pages: seven tabs at /admin/settings/<tab> (HESK's General, Help desk, Look & feel,
Knowledgebase, Email, Ticket list, Misc), a help page, and the SMTP/IMAP/POP3 "Test connection" buttons.

Every field comes from the declarations in ``hesk_py/settings.py``; saving a tab hands every value as
typed to ``settings.save`` (the same validation as ``hesk-py settings set``), which writes the tab in one
transaction or nothing at all. Only staff with ``can_man_settings`` get here (administrators have every
permission), after confirming their password recently (the staff panel's secure-area check).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from admin.security import require_feature, require_recent_auth
from hesk_py import settings
from hesk_py.services import branding, diagnostics

bp = Blueprint("settings", __name__, url_prefix="/settings")

CHANGES_KEY = "hesk_settings_changed"  # session: what the last save changed, shown once after redirect
MAX_CHANGES_SHOWN = 40


def _guarded(view):
    return require_feature("can_man_settings")(require_recent_auth(view))


# --- values between the form and the store -------------------------------------------------------

def form_value(d: settings.SettingDef, value: Any) -> Any:
    """A stored value as the form shows it: text for inputs, a list for checkboxes, a bool for a switch."""
    if d.kind == "bool":
        return bool(value)
    if d.kind == "list":
        return list(value) if d.control == "checkboxes" else "\n".join(str(v) for v in value)
    if d.secret:
        return ""  # never sent back to the browser
    return "" if value is None else str(value)


def _typed(tab: str) -> dict[str, Any]:
    """What the browser sent for this tab, as typed (for showing the form again)."""
    typed: dict[str, Any] = {}
    for d in settings.definitions(tab):
        name = d.field_name
        if d.control == "logo" or d.pending:
            continue  # a pending setting is shown disabled: the browser sends nothing, the stored value stays
        if d.kind == "bool":
            typed[d.key] = name in request.form
        elif d.control == "checkboxes":
            typed[d.key] = request.form.getlist(name)
        elif name in request.form:
            typed[d.key] = request.form.get(name, "")
    return typed


def _to_save(tab: str, typed: dict[str, Any]) -> dict[str, Any]:
    """The values handed to settings.save: a field missing from the request keeps its value; an empty
    secret keeps the stored one unless "remove" was ticked."""
    values: dict[str, Any] = {}
    for d in settings.definitions(tab):
        if d.key not in typed:
            continue
        if d.secret:
            if request.form.get(f"{d.field_name}__clear"):
                values[d.key] = ""
            elif typed[d.key]:
                values[d.key] = typed[d.key]
            continue
        values[d.key] = typed[d.key]
    return values


def _shown(d: settings.SettingDef, value: Any) -> str:
    """A value for the "what changed" list: choices by their label, switches as on/off, secrets hidden."""
    if d.secret:
        return _("(hidden)") if value else _("(empty)")
    if d.kind == "bool":
        return _("on") if value else _("off")
    labels = dict(settings.choice_pairs(d))
    if d.kind == "choice":
        return str(labels.get(value, value))
    if d.kind == "list":
        return ", ".join(str(labels.get(v, v)) for v in value) or _("(empty)")
    text = " ".join(str(value).split())
    if not text:
        return _("(empty)")
    return text if len(text) <= 80 else text[:77] + "..."


def _remember_changes(changed: dict[str, tuple[Any, Any]]) -> None:
    items = []
    for key, (old, new) in list(changed.items())[:MAX_CHANGES_SHOWN]:
        d = settings.definition(key)
        items.append({"key": key, "label": str(d.label), "old": _shown(d, old), "new": _shown(d, new)})
    session[CHANGES_KEY] = {"changed": items, "more": max(0, len(changed) - MAX_CHANGES_SHOWN)}


# --- pages ---------------------------------------------------------------------------------------

def _render(tab: str, *, typed: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
            notes: dict[str, str] | None = None, test=None, status_code: int = 200):
    current = settings.all_values()
    values = {d.key: form_value(d, current[d.key]) for d in settings.definitions(tab)}
    if typed:
        values.update({k: v for k, v in typed.items() if not settings.definition(k).secret})
    groups: dict[str, list[settings.SettingDef]] = {}
    for d in settings.definitions(tab):
        groups.setdefault(d.group, []).append(d)
    changes = session.pop(CHANGES_KEY, None) if request.method == "GET" else None
    return render_template(
        f"admin/settings/{tab}.html",
        tab=tab,
        tabs=settings.TABS,
        tab_labels=settings.TAB_LABELS,
        groups=[(g, settings.GROUPS[g], defs) for g, defs in groups.items()],
        values=values,
        secrets_set={d.key for d in settings.definitions(tab) if d.secret and current[d.key]},
        errors=errors or {},
        notes=notes or {},
        status=diagnostics.status(),
        changes=changes,
        test=test,
        time_zones=settings.time_zones(),
        choice_pairs=settings.choice_pairs,
        labels={d.key: d.label for d in settings.definitions()},
        logo_url=(url_for("branding.logo", name=current["site_logo"]) if current["site_logo"] else None),
    ), status_code


def _tab_view(tab: str):
    def view():
        if request.method == "GET":
            return _render(tab)
        typed = _typed(tab)
        values = _to_save(tab, typed)
        errors: dict[str, str] = {}
        old_logo = settings.get("site_logo")
        new_logo = None
        if tab == "look":
            upload = request.files.get("site_logo__file")
            try:
                if upload is not None and upload.filename:
                    new_logo = branding.store_logo(upload.read())
                    values["site_logo"] = new_logo
                elif request.form.get("site_logo__clear"):
                    values["site_logo"] = ""
            except branding.LogoRefused as exc:
                errors["site_logo"] = str(exc)
        try:
            if errors:
                settings.validate(values)  # show the other fields' errors too
                raise settings.SettingsError(errors)
            changed = settings.save(values)
        except settings.SettingsError as exc:
            if new_logo and new_logo != old_logo:
                branding.remove_logo_file(new_logo)
            errors = {**exc.errors, **errors}
            return _render(tab, typed=typed, errors=errors, status_code=422)
        if "site_logo" in changed and old_logo:
            branding.remove_logo_file(old_logo)
        _remember_changes(changed)
        return redirect(url_for(f"admin.settings.{tab}"))

    view.__name__ = tab
    view.__doc__ = f"The {tab} settings tab: GET shows it, POST saves it."
    return view


for _tab in settings.TABS:
    bp.add_url_rule(f"/{_tab}", endpoint=_tab, view_func=_guarded(_tab_view(_tab)), methods=["GET", "POST"])


@bp.get("/")
@_guarded
def index():
    return redirect(url_for("admin.settings.general"))


@bp.get("/help", endpoint="help")
@_guarded
def help_page():
    """Every setting explained on one page: the [?] links land on its anchors."""
    tabs = []
    for tab in settings.TABS:
        groups: dict[str, list[settings.SettingDef]] = {}
        for d in settings.definitions(tab):
            groups.setdefault(d.group, []).append(d)
        tabs.append((tab, settings.TAB_LABELS[tab], [(settings.GROUPS[g], defs) for g, defs in groups.items()]))
    defaults = {d.key: _shown(d, d.default) for d in settings.definitions()}
    return render_template("admin/settings/help.html", tabs=tabs, tab_labels=settings.TAB_LABELS, defaults=defaults)


@bp.post("/email/test/<protocol>")
@_guarded
def test_connection(protocol: str):
    """Try SMTP, IMAP or POP3 with the Email tab's values as typed, before saving; show the answer."""
    if protocol not in diagnostics.PROTOCOL_KEYS:
        abort(404)
    typed = _typed("email")
    errors: dict[str, str] = {}
    notes: dict[str, str] = {}
    result = None
    try:
        result = diagnostics.test_connection(protocol, typed)
    except settings.SettingsError as exc:
        errors = exc.errors
    if typed.get(f"{protocol}_password"):
        # the typed password was used for the test; the form never shows passwords again
        notes[f"{protocol}_password"] = _("The password you typed was used for this test but is not shown "
                                          "again: type it again before saving.")
    return _render("email", typed=typed, errors=errors, notes=notes, test=result,
                   status_code=200 if result else 422)
