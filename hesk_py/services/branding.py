"""The look of customer pages: the uploaded logo and the colour theme (Look & feel settings).

The logo file lives in ``<attachments folder>/branding/`` under a name made from its content, so a new
logo gets a new address and browsers never show a stale one; the ``site_logo`` setting holds that
name. Only PNG, JPEG, GIF and WebP pictures are accepted, recognised by their first bytes (an SVG could
carry scripts).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from hesk_py import settings

MAX_LOGO_BYTES = 512 * 1024

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
MIME_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


class LogoRefused(ValueError):
    """The uploaded file is not a logo we accept; the message is for the admin."""


def logo_folder() -> Path:
    return Path(current_app.config["HESK_ATTACHMENTS_DIR"]) / "branding"


def _picture_type(head: bytes) -> str | None:
    for signature, ext in _SIGNATURES:
        if head.startswith(signature):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def store_logo(data: bytes) -> str:
    """Write the picture to the logo folder and return its file name (not yet the setting)."""
    if not data:
        raise LogoRefused(_l("The file is empty."))
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRefused(_l("The logo may be at most %(n)s KB.", n=MAX_LOGO_BYTES // 1024))
    ext = _picture_type(data[:16])
    if ext is None:
        raise LogoRefused(_l("Upload a PNG, JPEG, GIF or WebP picture."))
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
    folder = logo_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
    except OSError as exc:
        raise LogoRefused(_l("The logo could not be saved in the attachments folder (%(reason)s).",
                             reason=exc.strerror or type(exc).__name__)) from None
    return name


def remove_logo_file(name: str) -> None:
    """Delete an old logo file (after the setting stopped pointing at it)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return
    try:
        (logo_folder() / name).unlink()
    except FileNotFoundError:
        pass


def logo_path(name: str) -> Path | None:
    """The file of the current logo, only when ``name`` is the current logo."""
    current = settings.get("site_logo")
    if not current or name != current:
        return None
    path = logo_folder() / current
    return path if path.is_file() else None


def accent_colours(accent: str) -> tuple[str, str]:
    """(accent, text on accent): black or white, whichever is easier to read on the accent."""
    r, g, b = (int(accent[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    # contrast with white (1.0) against contrast with black (0.0)
    on = "#ffffff" if (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) else "#000000"
    return accent, on


def theme_css() -> str:
    """The stylesheet of the customer theme (the accent colour), served by /branding/theme.css."""
    accent = settings.get("theme_overrides.primary")
    if not accent:
        return "/* no accent colour set */\n"
    accent, on = accent_colours(accent)
    # [data-accent] beats hesk.css's dark-mode rules (same specificity, loaded later)
    return f":root[data-accent] {{ --accent: {accent}; --accent-fg: {on}; }}\n"
