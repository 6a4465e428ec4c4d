"""How the staff panel shows things the Misc and Help desk settings shape: ticket times (``time_display``,
``format_timestamp``), the IP WHOIS link (``ip_whois``), the width of ticket messages (``limit_width``,
served as a small stylesheet because the Content-Security-Policy forbids inline styles), and the Markdown
editor's toolbar and preview (``staff_ticket_formatting`` for replies, ``kb_wysiwyg`` for articles).
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from flask import Blueprint, g, jsonify, make_response, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from markupsafe import Markup, escape

from hesk_py import i18n, settings

bp = Blueprint("display", __name__)


@bp.app_template_filter("staff_time")
def staff_time(value: datetime | None) -> Markup:
    """A ticket time for staff: "5 hours ago" with the exact time on hover (``time_display`` 1), or the
    exact time (0). The exact time uses ``format_timestamp`` in the help desk's time zone.

    A thread shows one per reply: the settings and the time zone are read once per request
    (``_time_context``), and the markup is put together with plain escaping (``Markup.format`` goes through
    ``string.Formatter``, which cost more than the rest of the filter)."""
    if value is None:
        return Markup("")
    tz, fmt, relative, named = _time_context()
    local = value.replace(tzinfo=timezone.utc).astimezone(tz)
    exact = escape(i18n.strftime(local, fmt) if named else local.strftime(fmt))
    iso = value.replace(microsecond=0).isoformat() + "Z"
    if relative:
        from admin.tickets import time_ago

        return Markup(f'<time datetime="{iso}" title="{exact}">{escape(time_ago(value))}</time>')
    return Markup(f'<time datetime="{iso}">{exact}</time>')


def _time_context() -> tuple:
    """(time zone, format_timestamp, relative times on, whether the format names days, months or AM/PM in
    a language other than English: only then ``i18n.strftime``) for this request."""
    found = g.get("_hesk_staff_time")
    if found is None:
        from flask_babel import get_locale

        fmt = settings.get("format_timestamp")
        locale = get_locale()
        named = (locale is not None and locale.language != "en"
                 and any(code in fmt for code in ("%a", "%A", "%b", "%B", "%p")))
        found = g._hesk_staff_time = (get_timezone(), fmt, int(settings.get("time_display")) == 1, named)
    return found


@bp.app_template_global("ip_whois_url")
def ip_whois_url(ip: str) -> str:
    """The ``ip_whois`` address with {IP} replaced (links to it carry rel="noreferrer", so the ticket's
    address is not sent to the WHOIS site)."""
    return str(settings.get("ip_whois")).replace("{IP}", quote(ip or "", safe=":."))


@bp.get("/display.css", endpoint="css")
def css():
    """The staff panel's setting-driven styles: the widest a ticket message may be."""
    width = int(settings.get("limit_width"))
    body = f".message-text {{ max-width: {width}px; }}\n" if width else ".message-text { max-width: none; }\n"
    resp = make_response(body)
    resp.headers["Content-Type"] = "text/css; charset=utf-8"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


# --- the Markdown editor: toolbar labels and the preview ---------------------------------------------

MAX_PREVIEW = 500_000


@bp.app_template_global("markdown_editor_attrs")
def markdown_editor_attrs() -> dict:
    """The data-* attributes of a Markdown editor for static/js/markdown-editor.js (its wrapper holds the
    textarea): the toolbar's labels and the preview's address."""
    return {
        "data-markdown-editor": "1",
        "data-preview-url": url_for("admin.display.markdown_preview"),
        "data-label-toolbar": _("Formatting"),
        "data-label-bold": _("Bold"), "data-label-italic": _("Italic"), "data-label-link": _("Link"),
        "data-label-list": _("List"), "data-label-code": _("Code"), "data-label-quote": _("Quote"),
        "data-label-preview": _("Preview"), "data-label-edit": _("Back to editing"),
        "data-label-link-text": _("link text"), "data-label-empty": _("Nothing to preview yet."),
        "data-label-failed": _("The preview could not be loaded."),
    }


@bp.post("/markdown/preview", endpoint="markdown_preview")
def markdown_preview():
    """For the editor's Preview button: ``{"html": ...}``, the Markdown rendered and sanitised exactly as the
    page will show it, for staff who write Markdown (replies, edited replies, articles). Without JavaScript
    the form's own Preview button does the same."""
    from flask import abort
    from flask_login import current_user

    from hesk_py.services import knowledgebase

    if not any(current_user.can(f) for f in ("can_reply_tickets", "can_edit_tickets", "can_man_kb")):
        abort(403)

    text = (request.form.get("text") or "")[:MAX_PREVIEW]
    resp = jsonify(html=str(knowledgebase.render(text)))
    resp.headers["Cache-Control"] = "no-store"
    return resp
