"""The barcode printed on ticket pages (HESK's ``barcode.*`` settings): a QR code of the tracking ID,
drawn by segno as inline SVG or as a PNG data URI (the CSP allows ``data:`` images, nothing else)."""
from __future__ import annotations

import base64
import io

import segno
from markupsafe import Markup, escape

from hesk_py import settings


def tracking_barcode(trackid: str, *, for_staff: bool = False) -> Markup | None:
    """The QR code for a printed ticket, or None when barcodes are off (or staff-only and this is the
    customer's page)."""
    if not settings.get("barcode.print") or (settings.get("barcode.staff_only") and not for_staff):
        return None
    qr = segno.make(trackid, error="m")
    width, height = int(settings.get("barcode.width")), int(settings.get("barcode.height"))
    modules = qr.symbol_size(scale=1, border=2)[0]
    scale = max(1, min(width, height) // modules)
    dark, light = str(settings.get("barcode.color")), str(settings.get("barcode.bg"))
    if settings.get("barcode.format") == "png":
        buf = io.BytesIO()
        qr.save(buf, kind="png", scale=scale, border=2, dark=dark, light=light)
        data = base64.b64encode(buf.getvalue()).decode()
        return Markup('<img class="barcode" src="data:image/png;base64,{0}" alt="{1}">').format(
            data, escape(trackid))
    # segno writes only path data and the escaped title
    return Markup(qr.svg_inline(scale=scale, border=2, dark=dark, light=light, title=trackid,
                                svgclass="barcode"))
