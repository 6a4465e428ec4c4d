"""How the staff panel shows things the Misc and Help desk settings shape: ticket times (``time_display``,
``format_timestamp``), the IP WHOIS link (``ip_whois``) and the width of ticket messages (``limit_width``,
served as a small stylesheet because the Content-Security-Policy forbids inline styles).
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from flask import Blueprint, make_response
from flask_babel import get_timezone
from markupsafe import Markup

from hesk_py import i18n, settings

bp = Blueprint("display", __name__)


@bp.app_template_filter("staff_time")
def staff_time(value: datetime | None) -> Markup:
    """A ticket time for staff: "5 hours ago" with the exact time on hover (``time_display`` 1), or the
    exact time (0). The exact time uses ``format_timestamp`` in the help desk's time zone."""
    if value is None:
        return Markup("")
    exact = i18n.strftime(value.replace(tzinfo=timezone.utc).astimezone(get_timezone()),
                          settings.get("format_timestamp"))
    iso = value.replace(microsecond=0).isoformat() + "Z"
    if int(settings.get("time_display")) == 1:
        from admin.tickets import time_ago

        shown = time_ago(value)
        return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, exact, shown)
    return Markup('<time datetime="{}">{}</time>').format(iso, exact)


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
